package io.flinkllm;

import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.Test;

public class SmokeTest {
    public static class Echo extends ScalarFunction {
        public Row eval(String a, String b) { return Row.of(a, (long) b.length()); }
        @Override
        public TypeInference getTypeInference(DataTypeFactory f) {
            return TypeInference.newBuilder()
                .typedArguments(DataTypes.STRING(), DataTypes.STRING())
                .outputTypeStrategy(ctx -> Optional.of(DataTypes.ROW(
                    DataTypes.FIELD(ctx.getArgumentValue(0, String.class).get(), DataTypes.STRING()),
                    DataTypes.FIELD("n", DataTypes.BIGINT()))))
                .build();
        }
    }

    @Test
    public void rowFromMiniCluster() throws Exception {
        TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        env.executeSql("CREATE FUNCTION echo AS '" + Echo.class.getName() + "'");
        List<Row> rows = new ArrayList<>();
        try (CloseableIterator<Row> it = env.executeSql(
                "SELECT r.x, r.n FROM (SELECT echo('x', s) AS r FROM (VALUES ('ab'), ('abc')) AS t(s))").collect()) {
            it.forEachRemaining(rows::add);
        }
        assertEquals(2, rows.size());
        assertEquals(Long.valueOf(2), rows.get(0).getField(1));
    }
}
