"""The network: initializers, activations, normalization layers and the MLP built from them."""
