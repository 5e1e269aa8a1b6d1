package io.flinkllm;

import io.flinkllm.call.LlmCall;
import io.flinkllm.engine.SharedTasks;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.flink.table.api.config.ExecutionConfigOptions;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.AsyncScalarFunction;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.inference.TypeInference;

/**
 * {@code llm_async(task, input [, options])}: {@link LlmFunction} as an asynchronous scalar
 * function. Same arguments, options, ROW type, error policies and metrics; the task thread only
 * hands the row to a small per-task executor ({@code flinkllm-async-*} threads) and goes on with
 * the next one, so up to {@code table.exec.async-scalar.max-concurrent-operations} rows of a slot
 * are in flight at once, and the engine runs them together in shared forward passes
 * ({@code batch-size} rows per pass).
 *
 * <pre>
 * CREATE FUNCTION llm_async AS 'io.flinkllm.AsyncLlmFunction';
 * SET 'table.exec.async-scalar.max-concurrent-operations' = '16';
 * SET 'table.exec.async-scalar.retry-strategy' = 'NO_RETRY';
 * SELECT llm_async('/path/support_ticket.task.json', message) AS r FROM tickets;
 * </pre>
 *
 * A row that fails under {@code error-handling-strategy=failover} completes exceptionally with
 * the exception {@link LlmFunction} throws; Flink then retries it per
 * {@code table.exec.async-scalar.retry-strategy} (the engine is deterministic, so a retry fails
 * again: {@code NO_RETRY} saves the wasted attempts) and fails the job.
 *
 * <p>{@code eval} completes with Flink's internal {@link RowData}, not {@code Row}: Flink 2.3
 * converts an async result with a converter that is not null-safe for ROW, so a NULL
 * {@code Row} (a row ignored under {@code error-handling-strategy=ignore}) would fail the job.
 * SQL sees the same ROW type either way.
 */
public class AsyncLlmFunction extends AsyncScalarFunction implements SpecializedFunction {
    private static final long serialVersionUID = 1L;

    private final LlmCall call;
    /** Threads of the task's executor: {@code table.exec.async-scalar.max-concurrent-operations} of the job. */
    private final int threads;

    private transient Executor executor;

    public AsyncLlmFunction() {
        this(LlmCall.unplanned(true), ExecutionConfigOptions.TABLE_EXEC_ASYNC_SCALAR_MAX_CONCURRENT_OPERATIONS.defaultValue());
    }

    private AsyncLlmFunction(LlmCall call, int threads) {
        this.call = call;
        this.threads = threads;
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        // The executor's size comes from the job configuration, which only planning sees.
        int concurrent = context.getConfiguration().get(ExecutionConfigOptions.TABLE_EXEC_ASYNC_SCALAR_MAX_CONCURRENT_OPERATIONS);
        return new AsyncLlmFunction(LlmCall.plan(context, true), concurrent);
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return LlmCall.typeInference(true);
    }

    @Override
    public void open(FunctionContext context) throws Exception {
        call.open(context, "AsyncLlmFunction");
        executor = SharedTasks.asyncExecutor(call.task, call.options, threads);
    }

    public void eval(CompletableFuture<RowData> result, String task, String input) {
        if (input == null) {
            // Flink's async calc answers a NULL argument itself (NULL, without calling eval);
            // this keeps the sync function's answer for any caller that does pass one.
            result.complete((RowData) call.run(null));
            return;
        }
        call.generateOn(executor, input, result, row -> (RowData) row);
    }

    public void eval(CompletableFuture<RowData> result, String task, String input, String callOptions) {
        eval(result, task, input);
    }

    @Override
    public void close() {
        call.close();
    }

    @Override
    public boolean isDeterministic() {
        // As LlmFunction: keeps the planner from running the model while planning.
        return false;
    }
}
