package io.flinkllm;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.InputTypeStrategies;
import org.apache.flink.table.types.inference.ArgumentTypeStrategy;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code llm(task, input [, options])}: runs a local model on each row and returns a typed
 * ROW whose fields come from the task's JSON schema.
 *
 * <pre>
 * CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction';
 * SELECT llm('/path/support_ticket.task.json', message) AS r FROM tickets;
 * </pre>
 *
 * The task is a STRING literal: absolute, or relative to {@code flinkllm.tasks.dir}. The
 * ROW type is declared at planning time; the planner then specializes the function per call
 * site into an instance that carries the resolved task path and options, which is what runs
 * on the task managers.
 */
public class LlmFunction extends ScalarFunction implements SpecializedFunction {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(LlmFunction.class);

    /** Also the env var {@code FLINKLLM_TASKS_DIR}. */
    public static final String TASKS_DIR_OPTION = LlmOptions.PREFIX + LlmOptions.TASKS_DIR;

    static final String TASKS_DIR_ENV = "FLINKLLM_TASKS_DIR";

    // Set only on specialized instances (null on the one CREATE FUNCTION instantiates).
    private final String taskPath;
    private final String outputType;
    private final LlmOptions options;

    private transient DataType rowType;
    private transient long handle;
    private transient volatile boolean opened;
    private transient int schemaFields;
    private transient ErrorPolicy policy;
    private transient LlmMetrics metrics;

    public LlmFunction() {
        this(null, null, LlmOptions.defaults());
    }

    private LlmFunction(String taskPath, String outputType, LlmOptions options) {
        this.taskPath = taskPath;
        this.outputType = outputType;
        this.options = options;
    }

    // ---------------------------------------------------------------- planning

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        ArgumentTypeStrategy task = InputTypeStrategies.and(InputTypeStrategies.LITERAL, InputTypeStrategies.explicit(DataTypes.STRING()));
        ArgumentTypeStrategy text = InputTypeStrategies.explicit(DataTypes.STRING());
        return TypeInference.newBuilder()
                .inputTypeStrategy(InputTypeStrategies.or(
                        InputTypeStrategies.sequence(task, text),
                        InputTypeStrategies.sequence(task, text, task)))
                // The job configuration is not visible here: options that change the type
                // (error-column) come from the call literal or system properties.
                .outputTypeStrategy(call -> Optional.of(outputDataType(describe(resolveTask(call, null)), options(call, null))))
                .build();
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        CallContext call = context.getCallContext();
        ReadableConfig config = context.getConfiguration();
        String path = resolveTask(call, config).toString();
        String type = describe(Paths.get(path));
        LlmOptions options = options(call, config);
        // Type inference cannot see the job configuration; if flinkllm.tasks.dir or
        // flinkllm.error-column set there changes the type, the plan would be wrong.
        DataType planned = call.getOutputDataType().orElse(null);
        DataType actual = outputDataType(type, options);
        if (planned != null && !planned.getLogicalType().copy(true).equals(actual.getLogicalType().copy(true))) {
            throw new ValidationException("llm(): task " + path + " gives type " + actual + " but the query was planned with " + planned
                    + " (is " + TASKS_DIR_OPTION + " or " + LlmOptions.PREFIX + LlmOptions.ERROR_COLUMN + " set in the job configuration only?"
                    + " The planner does not see it there: give error-column in the call's options, set either as a system property / "
                    + TASKS_DIR_ENV + ", or use an absolute task path)");
        }
        return new LlmFunction(path, type, options);
    }

    private static LlmOptions options(CallContext call, ReadableConfig config) {
        String literal = call.getArgumentDataTypes().size() > 2 ? call.getArgumentValue(2, String.class).orElse(null) : null;
        try {
            return LlmOptions.resolve(literal, config);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage(), e);
        }
    }

    private static DataType outputDataType(String schemaRowType, LlmOptions options) {
        try {
            return RowTypes.output(schemaRowType, options.errorColumn);
        } catch (LlmException e) {
            throw new ValidationException("llm(): " + e.getMessage(), e);
        }
    }

    @Override
    public boolean isDeterministic() {
        // Deterministic in output, but saying so lets the planner constant-fold calls with
        // literal inputs, i.e. load and run the model inside the SQL client.
        return false;
    }

    static Path resolveTask(CallContext call, ReadableConfig config) {
        String literal = call.getArgumentValue(0, String.class).orElseThrow(
                () -> new ValidationException("llm(): the first argument must be a non-NULL STRING literal naming a task file"));
        Path path = Paths.get(literal);
        if (!path.isAbsolute()) {
            String dir = tasksDir(config);
            if (dir == null) {
                throw new ValidationException("llm(): task path '" + literal + "' is relative but no tasks directory is set: use an absolute path, or set "
                        + TASKS_DIR_ENV + " / -D" + TASKS_DIR_OPTION + " for the planning process");
            }
            path = Paths.get(dir).resolve(path);
        }
        return path.toAbsolutePath().normalize();
    }

    private static String tasksDir(ReadableConfig config) {
        List<String> tried = java.util.Arrays.asList(
                config == null ? null : LlmOptions.lookup(LlmOptions.TASKS_DIR, null, config),
                System.getProperty(TASKS_DIR_OPTION),
                System.getenv(TASKS_DIR_ENV));
        return tried.stream().filter(v -> v != null && !v.isEmpty()).findFirst().orElse(null);
    }

    private static String describe(Path task) {
        try {
            NativeLibrary.load();
            String type = Engine.outputType(task.toString());
            // A broken model directory should fail here, at planning, not on the task managers.
            Engine.checkModel(task.toString());
            return type;
        } catch (LlmException e) {
            throw new ValidationException("llm(): cannot use task " + task + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- runtime

    @Override
    public void open(FunctionContext context) throws Exception {
        if (taskPath == null) {
            throw new IllegalStateException("LlmFunction was not specialized by the planner; call it from SQL or the Table API");
        }
        rowType = RowTypes.output(outputType, options.errorColumn);
        schemaFields = RowTypes.parse(outputType).getChildren().size();
        policy = new ErrorPolicy(options);
        handle = SharedTasks.acquire(taskPath, options);
        opened = true;
        // Fixed once the task is open (weights, index, prefix cache), so read it once.
        long nativeBytes = Engine.nativeMemoryBytes(handle);
        metrics = new LlmMetrics(context.getMetricGroup(), nativeBytes);
    }

    public Row eval(String task, String input) {
        if (input == null) {
            metrics.nullInput();
            return null;
        }
        long started = metrics.started();
        try {
            long[] stats = new long[Engine.STATS];
            Object[] fields = Engine.generate(handle, input, options.timeoutMillis, stats);
            metrics.tokens(stats);
            return toRow(options.errorColumn ? Arrays.copyOf(fields, schemaFields + 1) : fields);
        } catch (LlmException e) {
            ErrorPolicy.Outcome outcome = policy.decide(e);
            metrics.failed(e, outcome);
            if (outcome == ErrorPolicy.Outcome.FAIL) {
                throw policy.fail(taskPath, e);
            }
            LOG.warn("flinkllm: row {} ({}): {}", outcome == ErrorPolicy.Outcome.SKIPPED ? "skipped" : "ignored", e.kind(), e.getMessage());
            return toRow(policy.continued(outcome, e, schemaFields));
        } finally {
            metrics.finished(started);
        }
    }

    public Row eval(String task, String input, String callOptions) {
        return eval(task, input);
    }

    private Row toRow(Object[] fields) {
        return (Row) RowTypes.toExternal(rowType, fields);
    }

    @Override
    public void close() {
        if (opened) {
            opened = false;
            SharedTasks.release(taskPath, options);
        }
    }
}
