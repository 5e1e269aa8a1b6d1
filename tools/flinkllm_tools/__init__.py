"""Model tool-chain for flinkllm: GGUF/optimum → ONNX model directories."""

# Written into every manifest; bump when the produced graph or tokenizer changes so
# `prepare-model` knows an existing directory is stale.
CONVERTER_VERSION = "0.8.0"
CONVERTER_NAME = "flinkllm prepare-model"
