package io.flinkllm.model;

import java.util.Collection;
import java.util.Collections;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.PredictFunction;

/** {@code ML_PREDICT} on the task thread: one INPUT row in, exactly one OUTPUT row out. */
public final class LlmPredictFunction extends PredictFunction {
    private static final long serialVersionUID = 1L;

    private final ModelPlan plan;

    LlmPredictFunction(ModelPlan plan) {
        this.plan = plan;
    }

    @Override
    public void open(FunctionContext context) {
        plan.call.open(context, "flinkllm ML_PREDICT");
    }

    @Override
    public Collection<RowData> predict(RowData input) {
        String text = plan.input.render(input);
        Object row = text == null ? plan.call.nullInput() : plan.call.generate(text, plan.call.started());
        return Collections.singletonList((RowData) row);
    }

    @Override
    public void close() {
        plan.call.close();
    }
}
