package io.flinkllm;

import java.lang.reflect.Array;
import java.util.List;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;
import org.apache.flink.table.types.utils.TypeConversions;
import org.apache.flink.types.Row;

/**
 * The bridge between the engine's typed values and Flink's external types. The native side
 * decides the mapping from JSON schema (string→STRING, integer→BIGINT, number→DOUBLE,
 * boolean→BOOLEAN, array→ARRAY, object→ROW, optional→nullable) and states it as a Flink SQL
 * type string; values arrive in that shape, with Object[] for ROW and ARRAY, and only
 * need wrapping into {@link Row} and typed arrays here.
 */
final class RowTypes {
    private RowTypes() {}

    static DataType parse(String sqlType) {
        return TypeConversions.fromLogicalToDataType(LogicalTypeParser.parse(sqlType, RowTypes.class.getClassLoader()));
    }

    /** Converts a value of the native shape into the external class {@code type} asks for. */
    static Object toExternal(DataType type, Object value) {
        if (value == null) {
            return null;
        }
        LogicalTypeRoot root = type.getLogicalType().getTypeRoot();
        List<DataType> children = type.getChildren();
        if (root == LogicalTypeRoot.ROW) {
            Object[] fields = (Object[]) value;
            if (fields.length != children.size()) {
                throw new EngineRuntimeException("engine returned " + fields.length + " fields for " + type);
            }
            Row row = new Row(fields.length);
            for (int i = 0; i < fields.length; i++) {
                row.setField(i, toExternal(children.get(i), fields[i]));
            }
            return row;
        }
        if (root == LogicalTypeRoot.ARRAY) {
            Object[] items = (Object[]) value;
            DataType element = children.get(0);
            Object array = Array.newInstance(element.getConversionClass(), items.length);
            for (int i = 0; i < items.length; i++) {
                Array.set(array, i, toExternal(element, items[i]));
            }
            return array;
        }
        return value;
    }
}
