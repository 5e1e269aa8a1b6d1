package io.flinkllm;

/** ONNX Runtime or another engine step failed while generating. */
public class EngineRuntimeException extends LlmException {
    private static final long serialVersionUID = 1L;

    public EngineRuntimeException(String message) {
        super(message);
    }
}
