package io.flinkllm.model;

import org.apache.flink.table.api.config.MLPredictRuntimeConfigOptions;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.functions.PredictFunction;
import org.apache.flink.table.ml.AsyncPredictRuntimeProvider;
import org.apache.flink.table.ml.ModelProvider;
import org.apache.flink.table.ml.PredictRuntimeProvider;

/**
 * Both runtimes of a planned model: Flink picks async unless the {@code ML_PREDICT} call says
 * {@code MAP['async', 'false']}. Either way rows of one model running at the same time in a task
 * manager share forward passes in the engine; async only frees the task thread.
 */
final class LlmModelProvider implements PredictRuntimeProvider, AsyncPredictRuntimeProvider {
    private final ModelPlan plan;
    /** {@code table.exec.async-ml-predict.max-concurrent-operations} of the job. */
    private final int concurrent;

    LlmModelProvider(ModelPlan plan, int concurrent) {
        this.plan = plan;
        this.concurrent = concurrent;
    }

    @Override
    public PredictFunction createPredictFunction(Context context) {
        return new LlmPredictFunction(plan);
    }

    @Override
    public AsyncPredictFunction createAsyncPredictFunction(Context context) {
        // The call's MAP['max-concurrent-operations', ...] outranks the job's setting.
        int threads = context.runtimeConfig().getOptional(MLPredictRuntimeConfigOptions.ASYNC_MAX_CONCURRENT_OPERATIONS).orElse(concurrent);
        return new AsyncLlmPredictFunction(plan, threads);
    }

    @Override
    public ModelProvider copy() {
        return new LlmModelProvider(plan, concurrent);
    }
}
