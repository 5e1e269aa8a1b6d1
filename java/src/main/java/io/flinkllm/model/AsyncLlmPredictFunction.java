package io.flinkllm.model;

import io.flinkllm.engine.SharedTasks;
import java.util.Collection;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.functions.FunctionContext;

/**
 * {@code ML_PREDICT} without blocking the task thread: rows go to the model's small executor
 * (as {@link io.flinkllm.AsyncLlmFunction}'s do), up to the async operator's capacity in flight,
 * and the engine runs them together in shared forward passes.
 */
public final class AsyncLlmPredictFunction extends AsyncPredictFunction {
    private static final long serialVersionUID = 1L;

    private final ModelPlan plan;
    private final int threads;

    private transient Executor executor;

    AsyncLlmPredictFunction(ModelPlan plan, int threads) {
        this.plan = plan;
        this.threads = threads;
    }

    @Override
    public void open(FunctionContext context) {
        plan.call.open(context, "flinkllm ML_PREDICT");
        executor = SharedTasks.asyncExecutor(plan.call.task, plan.call.options, threads);
    }

    @Override
    public CompletableFuture<Collection<RowData>> asyncPredict(RowData input) {
        CompletableFuture<Collection<RowData>> result = new CompletableFuture<>();
        String text = plan.input.render(input);
        if (text == null) {
            result.complete(Collections.singletonList((RowData) plan.call.nullInput()));
            return result;
        }
        plan.call.generateOn(executor, text, result, row -> Collections.singletonList((RowData) row));
        return result;
    }

    @Override
    public void close() {
        plan.call.close();
    }
}
