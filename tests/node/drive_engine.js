// Drives a running latentdrag engine from Node.js with only the .proto file: health, list models,
// a seed session and a streamed drag. Prints one JSON summary line for the Python test to check.
// Usage: node drive_engine.js HOST:PORT PATH/TO/protos
"use strict";
const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [address, protoRoot] = process.argv.slice(2);
const definition = protoLoader.loadSync("latentdrag/v1/engine.proto", {
  includeDirs: [path.resolve(protoRoot)], keepCase: true, longs: Number, enums: String, defaults: true,
  oneofs: true,
});
const { Engine } = grpc.loadPackageDefinition(definition).latentdrag.v1;
const engine = new Engine(address, grpc.credentials.createInsecure(), {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
});

// grpc.health.v1.Health/Check with hand-written (de)serialisers: the request {service: ""} encodes to
// zero bytes and the response is field 1 (status) as a varint.
function healthCheck() {
  return new Promise((resolve, reject) => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    client.makeUnaryRequest("/grpc.health.v1.Health/Check", () => Buffer.alloc(0),
      (bytes) => (bytes.length >= 2 && bytes[0] === 0x08 ? bytes[1] : 0), {},
      (err, status) => (err ? reject(err) : resolve(status === 1 ? "SERVING" : `status ${status}`)));
  });
}

const unary = (method, request) => new Promise((resolve, reject) =>
  engine[method](request, (err, response) => (err ? reject(err) : resolve(response))));

function drag(request) {
  return new Promise((resolve, reject) => {
    const summary = { progress: 0, previews: 0, lastStep: 0 };
    const call = engine.Drag(request);
    call.on("data", (message) => {
      if (message.event === "progress") {
        summary.progress += 1;
        summary.lastStep = message.progress.step;
        if (message.progress.preview && message.progress.preview.data.length) summary.previews += 1;
      } else if (message.event === "result") {
        summary.result = message.result;
      }
    });
    call.on("error", reject);
    call.on("end", () => resolve(summary));
  });
}

async function main() {
  const health = await healthCheck();
  const models = await unary("ListModels", {});
  const created = await unary("CreateSession", { seed: { seed: 3, truncation_psi: 0.7 } });
  const streamed = await drag({
    session: created.session.name, handles: [{ x: 10, y: 10 }], targets: [{ x: 14, y: 10 }],
    method: "DRAG_METHOD_DRAGGAN", max_steps: 6, preview_every: 2,
  });
  let badMethod = null;
  try {
    await drag({ session: created.session.name, handles: [{ x: 1, y: 1 }], targets: [{ x: 2, y: 2 }] });
  } catch (err) {
    badMethod = { code: grpc.status[err.code], details: err.details };
  }
  const result = streamed.result;
  console.log(JSON.stringify({
    health, models: models.models.map((m) => m.name), defaultModel: models.default_model,
    progress: streamed.progress, previews: streamed.previews, lastStep: streamed.lastStep,
    revision: result.session.revision, steps: result.steps,
    imageMime: result.image.mime_type, imageBytes: result.image.data.length,
    pngSignature: result.image.data.subarray(0, 4).toString("hex"), badMethod,
  }));
  engine.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
