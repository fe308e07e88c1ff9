from latentdrag_krita.naming import result_layer_name, sample_layer_name


def test_results_are_numbered_after_the_highest_existing_one():
    assert result_layer_name([], 3) == "Latent Drag 1 · 3 points"
    existing = ["Background", "Latent Drag 1 · 3 points", "Latent Drag 4 · 1 point", "Latent Drag preview",
                "Drag points"]
    assert result_layer_name(existing, 1) == "Latent Drag 5 · 1 point"


def test_sample_names_carry_seed_and_psi():
    assert sample_layer_name(["Latent sample 2 · seed 1, ψ 0.7"], 42, 0.5) == "Latent sample 3 · seed 42, ψ 0.5"
