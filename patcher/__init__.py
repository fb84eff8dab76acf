"""Pin a TensorFlow 1 research repository, patch it with libcst codemods, and make a browser model of it."""
