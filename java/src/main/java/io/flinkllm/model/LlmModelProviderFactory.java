package io.flinkllm.model;

import io.flinkllm.config.LlmOptions;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.table.api.config.ExecutionConfigOptions;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.ModelProviderFactory;
import org.apache.flink.table.ml.ModelProvider;

/**
 * {@code CREATE MODEL m INPUT (...) OUTPUT (...) WITH ('provider' = 'flinkllm', 'model' = ...)}:
 * a local model whose typed OUTPUT columns are the constraint every answer matches, for
 * {@code ML_PREDICT} (sync, or async, per Flink's {@code ML_PREDICT} config). Found by Flink's
 * service loader in the flinkllm JAR. The options are {@link LlmOptions}' (the functions' own,
 * same names and meanings) plus {@code output.<column>.<keyword>}; an unknown option, a wrong
 * value or a column the model cannot answer is an error when the statement is planned.
 */
public class LlmModelProviderFactory implements ModelProviderFactory {
    public static final String IDENTIFIER = "flinkllm";

    @Override
    public ModelProvider createModelProvider(Context context) {
        FactoryUtil.ModelProviderFactoryHelper helper = FactoryUtil.createModelProviderFactoryHelper(this, context);
        helper.validateExcept(LlmOptions.OUTPUT_PREFIX);
        String name = "model " + context.getObjectIdentifier().asSummaryString();
        ModelPlan plan = ModelPlan.plan(name, context.getCatalogModel(), context.getConfiguration());
        int concurrent = context.getConfiguration().get(ExecutionConfigOptions.TABLE_EXEC_ASYNC_ML_PREDICT_MAX_CONCURRENT_OPERATIONS);
        return new LlmModelProvider(plan, concurrent);
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        // 'model' is required unless 'task-file' is given: checked by the plan.
        return new HashSet<>();
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return new HashSet<>(Arrays.asList(LlmOptions.TASK, LlmOptions.MODEL, LlmOptions.TASK_FILE, LlmOptions.SYSTEM_PROMPT,
                LlmOptions.SYSTEM_PROMPT_FILE, LlmOptions.EXAMPLES_FILE, LlmOptions.INPUT_TEMPLATE, LlmOptions.SCHEMA, LlmOptions.TEMPERATURE,
                LlmOptions.TOP_P, LlmOptions.SEED, LlmOptions.THREADS, LlmOptions.MAX_CONTEXT_SIZE, LlmOptions.MAX_STRING_LENGTH, LlmOptions.MAX_TOKENS, LlmOptions.BATCH_SIZE, LlmOptions.TIMEOUT,
                LlmOptions.ERROR_HANDLING_STRATEGY, LlmOptions.ERROR_STRING_COLUMN, LlmOptions.CONTEXT_OVERFLOW_ACTION, LlmOptions.MAX_LENGTH,
                LlmOptions.NORMALIZE, LlmOptions.CLASSIFIER));
    }
}
