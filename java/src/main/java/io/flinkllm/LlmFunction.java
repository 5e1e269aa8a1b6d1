package io.flinkllm;

import io.flinkllm.call.LlmCall;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;

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
 * on the task managers. Each row runs on the calling task thread; rows of the same task from
 * several slots of a task manager share forward passes ({@code batch-size}).
 * {@link AsyncLlmFunction} is the same call without blocking the task thread.
 */
public class LlmFunction extends ScalarFunction implements SpecializedFunction {
    private static final long serialVersionUID = 2L;

    /** Also the env var {@code FLINKLLM_TASKS_DIR}. */
    public static final String TASKS_DIR_OPTION = LlmCall.TASKS_DIR_OPTION;

    private final LlmCall call;

    public LlmFunction() {
        this(LlmCall.unplanned(false));
    }

    private LlmFunction(LlmCall call) {
        this.call = call;
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return LlmCall.typeInference(false);
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        return new LlmFunction(LlmCall.plan(context, false));
    }

    @Override
    public boolean isDeterministic() {
        // Deterministic in output, but saying so lets the planner constant-fold calls with
        // literal inputs, i.e. load and run the model inside the SQL client.
        return false;
    }

    @Override
    public void open(FunctionContext context) throws Exception {
        call.open(context, "LlmFunction");
    }

    public Row eval(String task, String input) {
        return (Row) call.run(input);
    }

    public Row eval(String task, String input, String callOptions) {
        return (Row) call.run(input);
    }

    @Override
    public void close() {
        call.close();
    }
}
