package io.flinkllm.model;

import io.flinkllm.config.LlmOptions;
import io.flinkllm.engine.TaskKeys;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
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
        // The provider's own options, and the task's keys as the engine declares them (kebab-case,
        // and their aliases): the engine reads and checks those.
        // A key the provider reads itself (model, input-template, context-overflow-action,
        // max-tokens) is listed once, as the provider's.
        Set<ConfigOption<?>> options = new HashSet<>(LlmOptions.PROVIDER_OPTIONS);
        Set<String> own = LlmOptions.PROVIDER_OPTIONS.stream().map(ConfigOption::key).collect(Collectors.toSet());
        for (TaskKeys.Key key : TaskKeys.all()) {
            if (!own.contains(key.sqlName()) && (key.alias == null || !own.contains(key.alias))) {
                options.add(ConfigOptions.key(key.sqlName()).stringType().noDefaultValue().withDescription(key.doc));
            }
        }
        return options;
    }
}
