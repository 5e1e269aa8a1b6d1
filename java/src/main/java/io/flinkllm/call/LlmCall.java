package io.flinkllm.call;

import io.flinkllm.LlmException;
import io.flinkllm.config.LlmOptions;
import io.flinkllm.engine.AllowedPaths;
import io.flinkllm.engine.Engine;
import io.flinkllm.engine.NativeLibrary;
import io.flinkllm.engine.SharedTasks;
import io.flinkllm.engine.TaskSource;
import io.flinkllm.metrics.LlmMetrics;
import java.io.Serializable;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.SpecializedFunction.SpecializedContext;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.ArgumentTypeStrategy;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.InputTypeStrategies;
import org.apache.flink.table.types.inference.InputTypeStrategy;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@code llm(task, input [, options])} call site, planned and then running: what
 * {@link io.flinkllm.LlmFunction} and {@link io.flinkllm.AsyncLlmFunction} share. At planning it turns the task's JSON
 * schema into the ROW type and resolves the options; on the task manager it holds the shared
 * native task, the error policy and the metrics, and turns one input into one ROW (or into the
 * exception that fails the job). The functions only decide on which thread that happens, and
 * whether results are external {@link Row}s or internal {@link RowData} (an async scalar function
 * in Flink 2.3 cannot complete with a NULL {@code Row}: its result converter is not null-safe).
 */
public final class LlmCall implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(LlmCall.class);

    public static final String TASKS_DIR_OPTION = LlmOptions.PREFIX + LlmOptions.TASKS_DIR.key();
    public static final String TASKS_DIR_ENV = "FLINKLLM_TASKS_DIR";

    // null on the instance CREATE FUNCTION makes (before the planner specializes it).
    public final TaskSource task;
    /** Who calls, for errors: {@code llm()} or {@code ML_PREDICT}. */
    private final String caller;
    /** The result ROW's type ({@link org.apache.flink.table.types.logical.LogicalType#asSerializableString}). */
    private final String rowType;
    /** The ROW field a continued row's reason goes to; -1: none. The task's fields fill the others, in order. */
    private final int errorField;
    /**
     * A NULL-input or continued row is a ROW of NULLs (with its reason in {@link #errorField})
     * instead of NULL: {@code ML_PREDICT} emits nothing for a NULL result, and must keep the row.
     */
    private final boolean keepRow;
    public final LlmOptions options;
    /** Results as {@link RowData} instead of {@link Row}. */
    private final boolean internalRows;

    private transient DataType resultType;
    private transient long handle;
    private transient volatile boolean opened;
    private transient int rowFields;
    private transient ErrorPolicy policy;
    private transient LlmMetrics metrics;

    private LlmCall(TaskSource task, String caller, String rowType, int errorField, boolean keepRow, LlmOptions options, boolean internalRows) {
        this.task = task;
        this.caller = caller;
        this.rowType = rowType;
        this.errorField = errorField;
        this.keepRow = keepRow;
        this.options = options;
        this.internalRows = internalRows;
    }

    /** The call before planning: no task yet. */
    public static LlmCall unplanned(boolean internalRows) {
        return new LlmCall(null, "llm()", null, -1, false, LlmOptions.defaults(), internalRows);
    }

    /**
     * A model provider's call: results are internal ROWs of {@code rowType}, never NULL; the
     * task's fields fill it in order, skipping {@code errorField} (-1: none), which holds a
     * continued row's reason.
     */
    public static LlmCall forModel(TaskSource task, DataType rowType, int errorField, LlmOptions options) {
        return new LlmCall(task, "ML_PREDICT", rowType.getLogicalType().asSerializableString(), errorField, true, options, true);
    }

    // ---------------------------------------------------------------- planning

    /**
     * {@code (task STRING literal, input STRING [, options STRING literal])} → the task's ROW,
     * as {@link RowData} with {@code internalRows}.
     */
    public static TypeInference typeInference(boolean internalRows) {
        return TypeInference.newBuilder()
                .inputTypeStrategy(literalTextOptions())
                // The job configuration is not visible here: options that change the type
                // (error-column) come from the call literal or system properties.
                .outputTypeStrategy(call -> {
                    LlmOptions options = options(call, null);
                    return Optional.of(outputDataType(describe(TaskSource.file(resolveTask(call, null).toString()), options), options, internalRows));
                })
                .build();
    }

    /** {@code (STRING literal, STRING [, STRING literal])}: what the task or model is, the row's text, the options. */
    public static InputTypeStrategy literalTextOptions() {
        ArgumentTypeStrategy literal = InputTypeStrategies.and(InputTypeStrategies.LITERAL, InputTypeStrategies.explicit(DataTypes.STRING()));
        ArgumentTypeStrategy text = InputTypeStrategies.explicit(DataTypes.STRING());
        return InputTypeStrategies.or(InputTypeStrategies.sequence(literal, text), InputTypeStrategies.sequence(literal, text, literal));
    }

    /** The call site as the planner specialized it: task path, ROW type and options resolved. */
    public static LlmCall plan(SpecializedContext context, boolean internalRows) {
        CallContext call = context.getCallContext();
        ReadableConfig config = context.getConfiguration();
        String path = resolveTask(call, config).toString();
        LlmOptions options = options(call, config);
        TaskSource task = TaskSource.file(path);
        String type = describe(task, options);
        // Type inference cannot see the job configuration; if flinkllm.tasks.dir or
        // flinkllm.error-column set there changes the type, the plan would be wrong.
        DataType planned = call.getOutputDataType().orElse(null);
        DataType actual = outputDataType(type, options, internalRows);
        if (planned != null && !planned.getLogicalType().copy(true).equals(actual.getLogicalType().copy(true))) {
            throw new ValidationException("llm(): task " + path + " gives type " + actual + " but the query was planned with " + planned
                    + " (is " + TASKS_DIR_OPTION + " or " + LlmOptions.PREFIX + LlmOptions.ERROR_COLUMN.key() + " set in the job configuration only?"
                    + " The planner does not see it there: give error-column in the call's options, set either as a system property / "
                    + TASKS_DIR_ENV + ", or use an absolute task path)");
        }
        DataType row = RowTypes.output(type, options.errorColumn);
        int errorField = options.errorColumn ? row.getChildren().size() - 1 : -1;
        return new LlmCall(task, "llm()", row.getLogicalType().asSerializableString(), errorField, false, options, internalRows);
    }

    /**
     * {@code embed(model, text [, options])} as the planner specialized it: an embedding task over
     * the encoder {@code model} (a STRING literal: a model name or directory), checked now.
     */
    public static LlmCall planEmbedding(SpecializedContext context) {
        CallContext call = context.getCallContext();
        String model = call.getArgumentValue(0, String.class).orElseThrow(
                () -> new ValidationException("embed(): the first argument must be a non-NULL STRING literal naming an encoder model"));
        LlmOptions options = options(call, context.getConfiguration());
        TaskSource task = TaskSource.document("embed(" + model + ")", embeddingTask(model), null);
        DataType row = RowTypes.parse(describe(task, options));
        return new LlmCall(task, "embed()", row.getLogicalType().asSerializableString(), -1, false, options, false);
    }

    private static String embeddingTask(String model) {
        ObjectNode doc = new ObjectMapper().createObjectNode();
        doc.put("task", "embedding");
        doc.put("model", model);
        return doc.toString();
    }

    private static LlmOptions options(CallContext call, ReadableConfig config) {
        String literal = call.getArgumentDataTypes().size() > 2 ? call.getArgumentValue(2, String.class).orElse(null) : null;
        try {
            return LlmOptions.resolve(literal, config);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage(), e);
        }
    }

    private static DataType outputDataType(String schemaRowType, LlmOptions options, boolean internalRows) {
        try {
            DataType type = RowTypes.output(schemaRowType, options.errorColumn);
            return internalRows ? type.bridgedTo(RowData.class) : type;
        } catch (IllegalArgumentException e) {
            throw new ValidationException("llm(): " + e.getMessage(), e);
        }
    }

    public static Path resolveTask(CallContext call, ReadableConfig config) {
        String literal = call.getArgumentValue(0, String.class).orElseThrow(
                () -> new ValidationException("llm(): the first argument must be a non-NULL STRING literal naming a task file"));
        return resolveFile(literal, config, "llm(): task path");
    }

    /**
     * A file a job names ({@code what}, for errors): absolute, or relative to the tasks
     * directory ({@code flinkllm.tasks.dir} in {@code config}, as a system property, or
     * {@code FLINKLLM_TASKS_DIR}).
     */
    public static Path resolveFile(String name, ReadableConfig config, String what) {
        Path path = Paths.get(name);
        if (!path.isAbsolute()) {
            String dir = tasksDir(config);
            if (dir == null) {
                throw new ValidationException(what + " '" + name + "' is relative but no tasks directory is set: use an absolute path, or set "
                        + TASKS_DIR_ENV + " / -D" + TASKS_DIR_OPTION + " for the planning process");
            }
            path = Paths.get(dir).resolve(path);
        }
        return path.toAbsolutePath().normalize();
    }

    /** The tasks directory relative file names resolve against, or null when none is set. */
    public static String tasksDir(ReadableConfig config) {
        List<String> tried = Arrays.asList(
                config == null ? null : LlmOptions.lookup(LlmOptions.TASKS_DIR, null, config),
                System.getProperty(TASKS_DIR_OPTION),
                System.getenv(TASKS_DIR_ENV));
        return tried.stream().filter(v -> v != null && !v.isEmpty()).findFirst().orElse(null);
    }

    private static String describe(TaskSource task, LlmOptions options) {
        try {
            return describeTask(task, options);
        } catch (LlmException e) {
            throw new ValidationException("llm(): cannot use task " + task + ": " + e.getMessage(), e);
        }
    }

    /**
     * The task's output type (a Flink SQL ROW type), after checking its model directory: a
     * broken one should fail at planning, not on the task managers.
     */
    public static String describeTask(TaskSource task, LlmOptions options) {
        NativeLibrary.load();
        return task.plan(options.engineKey(), AllowedPaths.current());
    }

    // ---------------------------------------------------------------- runtime

    /** Opens (or shares) the native task; {@code function} names the caller in errors. */
    public void open(FunctionContext context, String function) {
        if (task == null) {
            throw new IllegalStateException(function + " was not specialized by the planner; call it from SQL or the Table API");
        }
        resultType = RowTypes.parse(rowType);
        rowFields = resultType.getChildren().size();
        policy = new ErrorPolicy(options, caller, task.label);
        handle = SharedTasks.acquire(task, options);
        opened = true;
        // Fixed once the task is open (weights, index, prefix cache), so read it once.
        long nativeBytes = Engine.nativeMemoryBytes(handle);
        metrics = new LlmMetrics(context.getMetricGroup(), nativeBytes);
    }

    /** One row on this thread: NULL (or a ROW of NULLs) for a NULL input, else {@link #generate}. */
    public Object run(String input) {
        if (input == null) {
            return nullInput();
        }
        return generate(input, started());
    }

    /** The result of a NULL input: NULL, or a ROW of NULLs where the row must be kept. */
    public Object nullInput() {
        metrics.nullInput();
        return keepRow ? toRow(new Object[rowFields]) : null;
    }

    /** Counts a non-NULL row as in flight from now; the value goes to {@link #generate}. */
    public long started() {
        return metrics.started();
    }

    /**
     * Runs the model on one input (blocking) and applies the error policy: the ROW, a NULL or
     * error-column ROW for a row that continues, or the {@link LlmException} that fails the job.
     * A value the ROW type cannot hold (a task file's integer beyond an INT column) fails the
     * row like an engine error.
     */
    public Object generate(String input, long started) {
        long[] stats = new long[Engine.STATS];
        try {
            Object[] fields = Engine.generate(handle, input, options.timeoutMillis, stats);
            metrics.tokens(stats);
            return toRow(withErrorField(fields));
        } catch (LlmException e) {
            ErrorPolicy.Outcome outcome = policy.decide(e);
            metrics.failed(e.kind());
            if (outcome == ErrorPolicy.Outcome.FAIL) {
                throw policy.fail(input, e);
            }
            metrics.continued(outcome == ErrorPolicy.Outcome.SKIPPED);
            LOG.warn("flinkllm: row {} ({}): {}", outcome == ErrorPolicy.Outcome.SKIPPED ? "skipped" : "ignored", e.kind(), e.getMessage());
            if (errorField < 0 && !keepRow) {
                return null;
            }
            Object[] row = new Object[rowFields];
            if (errorField >= 0) {
                row[errorField] = ErrorPolicy.reason(outcome, e);
            }
            return toRow(row);
        } finally {
            metrics.inputRepaired(stats);
            metrics.finished(started);
        }
    }

    /** The task's fields in ROW order, with an empty {@link #errorField} slot. */
    private Object[] withErrorField(Object[] fields) {
        if (errorField < 0) {
            return fields;
        }
        Object[] row = new Object[fields.length + 1];
        System.arraycopy(fields, 0, row, 0, errorField);
        System.arraycopy(fields, errorField, row, errorField + 1, fields.length - errorField);
        return row;
    }

    /**
     * Runs one row on {@code executor} (the async functions' per-task threads) and completes
     * {@code result} with {@code wrap} of its value, or exceptionally with the error that fails
     * the job. A row handed to an executor already shut down (after close) fails at once.
     */
    public <T> void generateOn(Executor executor, String input, CompletableFuture<T> result, Function<Object, T> wrap) {
        long started = started();
        try {
            executor.execute(() -> {
                try {
                    result.complete(wrap.apply(generate(input, started)));
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException e) {
            notRun(started);
            result.completeExceptionally(new IllegalStateException(caller + ": task " + task + " is closed: " + e.getMessage(), e));
        }
    }

    /** A row counted by {@link #started} that will not run after all. */
    public void notRun(long started) {
        metrics.finished(started);
    }

    private Object toRow(Object[] fields) {
        return internalRows ? RowTypes.toInternal(resultType, fields) : RowTypes.toExternal(resultType, fields);
    }

    public void close() {
        if (opened) {
            opened = false;
            SharedTasks.release(task, options);
        }
    }
}
