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
    /** Where the document's relative file names resolve; null: the working directory. */
    final String base;

    private TaskSource(String label, String document, String base) {
        this.label = Objects.requireNonNull(label);
        this.document = document;
        this.base = base;
    }

    public static TaskSource file(String path) {
        return new TaskSource(path, null, null);
    }

    /** A task document whose relative file names resolve against {@code base} (null: the working directory). */
    public static TaskSource document(String label, String json, String base) {
        return new TaskSource(label, Objects.requireNonNull(json), base);
    }

    /** The type of the task's output, after checking it with these options; see {@link Engine#plan}. */
    public String plan(String options, String allowedPaths) {
        return Engine.plan(label, document, base, options, allowedPaths);
    }

    long open(String options, String allowedPaths) {
        return Engine.open(label, document, base, options, allowedPaths);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TaskSource && label.equals(((TaskSource) o).label) && Objects.equals(document, ((TaskSource) o).document)
                && Objects.equals(base, ((TaskSource) o).base);
    }

    @Override
    public int hashCode() {
        return Objects.hash(label, document, base);
    }

    @Override
    public String toString() {
        return label;
    }
}
