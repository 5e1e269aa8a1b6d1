package io.flinkllm.engine;

/**
 * The operator's confinement of the files a job can make flinkllm read (task files, the
 * prompt, example and schema files they name, model directories): the JVM system property
 * {@value #PROPERTY} or the environment variable {@value #ENV}, directories separated by
 * {@code :}, set for every Flink process ({@code env.java.opts.all}, the task managers'
 * environment). Deliberately not a flinkllm option: a job's {@code SET} or call options cannot
 * widen it. Unset, any file the process can read is allowed. The engine enforces it (after
 * resolving {@code ..} and symlinks) at planning and again when a task opens on a task manager.
 */
public final class AllowedPaths {
    public static final String PROPERTY = "flinkllm.allowed-paths";
    public static final String ENV = "FLINKLLM_ALLOWED_PATHS";

    private AllowedPaths() {}

    /** The setting of this process, or null if it is not set. */
    public static String current() {
        String value = System.getProperty(PROPERTY);
        return value != null ? value : System.getenv(ENV);
    }
}
