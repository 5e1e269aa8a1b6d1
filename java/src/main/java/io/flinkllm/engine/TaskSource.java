package io.flinkllm.engine;

import java.io.Serializable;
import java.util.Objects;

/**
 * What the engine opens: a task file, or a task document (the same JSON a task file holds)
 * that the model provider writes from a {@code CREATE MODEL} statement. Equal sources with
 * equal options share one open task, in Java ({@link SharedTasks}) and in the engine.
 */
public final class TaskSource implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The task file's path, or the document's label (how errors name the task). */
    public final String label;
    /** The task document; null for a task file. */
    final String document;

    private TaskSource(String label, String document) {
        this.label = Objects.requireNonNull(label);
        this.document = document;
    }

    public static TaskSource file(String path) {
        return new TaskSource(path, null);
    }

    /** A task document; file names in it should be absolute (relative ones resolve against the working directory). */
    public static TaskSource document(String label, String json) {
        return new TaskSource(label, Objects.requireNonNull(json));
    }

    /** The type of the task's output; see {@link Engine#outputType}. */
    public String outputType(String allowedPaths) {
        return Engine.outputType(label, document, allowedPaths);
    }

    /** See {@link Engine#checkModel}. */
    public void checkModel(String model, String allowedPaths) {
        Engine.checkModel(label, document, model, allowedPaths);
    }

    long open(String model, long maxTokens, String contextOverflow, int batchSize, String allowedPaths) {
        return Engine.open(label, document, model, maxTokens, contextOverflow, batchSize, allowedPaths);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TaskSource && label.equals(((TaskSource) o).label) && Objects.equals(document, ((TaskSource) o).document);
    }

    @Override
    public int hashCode() {
        return Objects.hash(label, document);
    }

    @Override
    public String toString() {
        return label;
    }
}
