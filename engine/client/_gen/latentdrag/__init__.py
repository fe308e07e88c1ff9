"""Generated code for the protos/latentdrag package."""
