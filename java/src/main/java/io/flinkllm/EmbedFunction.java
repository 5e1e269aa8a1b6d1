package io.flinkllm;

import io.flinkllm.call.LlmCall;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.inference.TypeStrategies;
import org.apache.flink.types.Row;

/**
 * {@code embed(model, text [, options])}: a sentence encoder's vector of each row, as
 * {@code ARRAY<FLOAT>} (L2-normalised: cosine similarity is a dot product).
 *
 * <pre>
 * CREATE FUNCTION embed AS 'io.flinkllm.EmbedFunction';
 * SELECT event_id, embed('all-minilm-l6-v2-int8', message) AS embedding FROM tickets;
 * </pre>
 *
 * The model is a STRING literal (a name under the models directory, or a directory made by
 * {@code tools/prepare-model minilm}), checked at planning. The options literal and
 * {@code SET 'flinkllm.<option>'} work as for {@link LlmFunction}: error handling, timeout,
 * {@code context-overflow-action} (what a row longer than the encoder's 256 tokens gets) and
 * {@code batch-size} (rows of several slots share encoder passes). NULL text gives NULL.
 */
public class EmbedFunction extends ScalarFunction implements SpecializedFunction {
    private static final long serialVersionUID = 1L;

    // null on the instance CREATE FUNCTION makes (before the planner specializes it).
    private final LlmCall call;

    public EmbedFunction() {
        this(null);
    }

    private EmbedFunction(LlmCall call) {
        this.call = call;
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .inputTypeStrategy(LlmCall.literalTextOptions())
                .outputTypeStrategy(TypeStrategies.explicit(DataTypes.ARRAY(DataTypes.FLOAT())))
                .build();
    }

    @Override
    public UserDefinedFunction specialize(SpecializedContext context) {
        return new EmbedFunction(LlmCall.planEmbedding(context));
    }

    @Override
    public boolean isDeterministic() {
        // As for llm(): a literal input must not be constant-folded inside the planner.
        return false;
    }

    @Override
    public void open(FunctionContext context) throws Exception {
        if (call == null) {
            throw new IllegalStateException("embed() was not specialized by the planner; call it from SQL or the Table API");
        }
        call.open(context, "EmbedFunction");
    }

    public Float[] eval(String model, String text) {
        return vector(call.run(text));
    }

    public Float[] eval(String model, String text, String callOptions) {
        return vector(call.run(text));
    }

    /** The task's one field (the engine's numbers) as FLOATs; NULL for a NULL or skipped row. */
    private static Float[] vector(Object row) {
        Object[] values = row == null ? null : (Object[]) ((Row) row).getField(0);
        if (values == null) {
            return null;
        }
        Float[] out = new Float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = ((Number) values[i]).floatValue();
        }
        return out;
    }

    @Override
    public void close() {
        if (call != null) {
            call.close();
        }
    }
}
