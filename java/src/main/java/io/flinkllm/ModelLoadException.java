package io.flinkllm;

/** The model directory could not be loaded (missing files, bad manifest, ONNX Runtime refused the graph). */
public class ModelLoadException extends LlmException {
    private static final long serialVersionUID = 1L;

    public ModelLoadException(String message) {
        super(message);
    }
}
