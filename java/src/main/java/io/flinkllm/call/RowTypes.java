package io.flinkllm.call;

import io.flinkllm.LlmException;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.CharType;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.VarCharType;
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
public final class RowTypes {
    private RowTypes() {}

    /** The name of the field {@code error-column=true} appends. */
    public static final String ERROR_FIELD = "error";

    public static DataType parse(String sqlType) {
        return TypeConversions.fromLogicalToDataType(LogicalTypeParser.parse(sqlType, RowTypes.class.getClassLoader()));
    }

    /**
     * The function's ROW type: the schema's ROW, or with the error column every field
     * nullable (a failed row has none of them) plus a last nullable {@code error} STRING.
     */
    static DataType output(String schemaRowType, boolean errorColumn) {
        DataType row = parse(schemaRowType);
        if (!errorColumn) {
            return row;
        }
        RowType schema = (RowType) row.getLogicalType();
        if (schema.getFieldNames().contains(ERROR_FIELD)) {
            throw new IllegalArgumentException("error-column adds a field named '" + ERROR_FIELD + "', but the task's schema already has one: rename it or leave error-column off");
        }
        List<RowType.RowField> fields = new ArrayList<>();
        for (RowType.RowField f : schema.getFields()) {
            fields.add(new RowType.RowField(f.getName(), f.getType().copy(true)));
        }
        fields.add(new RowType.RowField(ERROR_FIELD, new VarCharType(VarCharType.MAX_LENGTH)));
        return TypeConversions.fromLogicalToDataType(new RowType(true, fields));
    }

    /** Converts a value of the native shape into the external class {@code type} asks for. */
    static Object toExternal(DataType type, Object value) {
        return convert(type, value, false);
    }

    /**
     * Converts a value of the native shape into Flink's internal data structures ({@link
     * GenericRowData}, {@link GenericArrayData}, {@link StringData}), for a result declared as
     * {@code RowData}.
     */
    static Object toInternal(DataType type, Object value) {
        return convert(type, value, true);
    }

    private static Object convert(DataType type, Object value, boolean internal) {
        if (value == null) {
            return null;
        }
        LogicalTypeRoot root = type.getLogicalType().getTypeRoot();
        List<DataType> children = type.getChildren();
        if (root == LogicalTypeRoot.ROW) {
            Object[] fields = (Object[]) value;
            if (fields.length != children.size()) {
                throw new IllegalStateException("engine returned " + fields.length + " fields for " + type);
            }
            Object[] out = new Object[fields.length];
            for (int i = 0; i < fields.length; i++) {
                out[i] = convert(children.get(i), fields[i], internal);
            }
            return internal ? GenericRowData.of(out) : Row.of(out);
        }
        if (root == LogicalTypeRoot.ARRAY) {
            Object[] items = (Object[]) value;
            DataType element = children.get(0);
            Object array = internal ? new Object[items.length] : Array.newInstance(element.getConversionClass(), items.length);
            for (int i = 0; i < items.length; i++) {
                Array.set(array, i, convert(element, items[i], internal));
            }
            return internal ? new GenericArrayData((Object[]) array) : array;
        }
        return internal ? internalScalar(type.getLogicalType(), value) : value;
    }

    /**
     * A scalar of the native shape (String, Long, Double, Boolean) as the internal value of the
     * column type: the functions' types are the shape's own, a model provider's OUTPUT columns
     * may narrow them (INT from an integer, DATE from a date string, ...). A value the type
     * cannot hold fails the row ({@link LlmException} of kind {@code InvalidOutput}).
     */
    private static Object internalScalar(LogicalType type, Object value) {
        try {
            switch (type.getTypeRoot()) {
                case CHAR:
                    return StringData.fromString(padded((String) value, ((CharType) type).getLength()));
                case VARCHAR:
                    return StringData.fromString((String) value);
                case TINYINT:
                    return (byte) Math.toIntExact(fitting((Long) value, Byte.MIN_VALUE, Byte.MAX_VALUE));
                case SMALLINT:
                    return (short) Math.toIntExact(fitting((Long) value, Short.MIN_VALUE, Short.MAX_VALUE));
                case INTEGER:
                    return Math.toIntExact((Long) value);
                case FLOAT:
                    return ((Number) value).floatValue();
                case DOUBLE:
                    return ((Number) value).doubleValue();
                case DECIMAL:
                    DecimalType decimal = (DecimalType) type;
                    DecimalData d = DecimalData.fromBigDecimal(new BigDecimal(value.toString()), decimal.getPrecision(), decimal.getScale());
                    if (d == null) {
                        throw new ArithmeticException(value + " has more than " + decimal.getPrecision() + " digits");
                    }
                    return d;
                case DATE:
                    return (int) LocalDate.parse((String) value).toEpochDay();
                case TIMESTAMP_WITHOUT_TIME_ZONE:
                    // The wall-clock time as written; the offset is dropped.
                    return TimestampData.fromLocalDateTime(OffsetDateTime.parse((String) value).toLocalDateTime());
                case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                    return TimestampData.fromInstant(OffsetDateTime.parse((String) value).toInstant());
                default:
                    return value;
            }
        } catch (ArithmeticException | DateTimeParseException | ClassCastException | NumberFormatException e) {
            throw new LlmException("InvalidOutput", "the answer's value " + value + " does not fit " + type + ": " + e.getMessage(), e);
        }
    }

    private static long fitting(long value, long min, long max) {
        if (value < min || value > max) {
            throw new ArithmeticException("out of range [" + min + ", " + max + "]");
        }
        return value;
    }

    /** CHAR(n) values are padded with spaces to n characters, as Flink's CAST does. */
    private static String padded(String value, int length) {
        StringBuilder out = new StringBuilder(value);
        while (out.length() < length) {
            out.append(' ');
        }
        return out.toString();
    }
}
