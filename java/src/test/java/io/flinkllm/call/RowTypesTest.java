package io.flinkllm.call;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.Row;
import org.junit.Test;

public class RowTypesTest {
    private static final String TYPE =
            "ROW<`category` STRING NOT NULL, `score` BIGINT, `p` DOUBLE, `ok` BOOLEAN, `tags` ARRAY<STRING>, "
                    + "`entities` ARRAY<ROW<`entity` STRING NOT NULL, `type` STRING NOT NULL>> NOT NULL>";

    @Test
    public void parsesTheNativeTypeString() {
        DataType type = RowTypes.parse(TYPE);
        RowType row = (RowType) type.getLogicalType();
        assertEquals(6, row.getFieldCount());
        assertFalse(row.getTypeAt(0).isNullable());
        assertTrue(row.getTypeAt(1).isNullable());
        assertEquals("entities", row.getFieldNames().get(5));
        assertEquals(Row.class, type.getConversionClass());
    }

    @Test
    public void convertsNestedValuesToRowsAndTypedArrays() {
        Object[] value = {"auth", 3L, 0.5, Boolean.TRUE, new Object[] {"a", null}, new Object[] {new Object[] {"Paris", "LOC"}}};
        Row row = (Row) RowTypes.toExternal(RowTypes.parse(TYPE), value);
        assertEquals("auth", row.getField(0));
        assertEquals(3L, row.getField(1));
        assertEquals(0.5, row.getField(2));
        assertEquals(Boolean.TRUE, row.getField(3));
        assertArrayEquals(new String[] {"a", null}, (String[]) row.getField(4));
        Row[] entities = (Row[]) row.getField(5);
        assertEquals(Row.of("Paris", "LOC"), entities[0]);
    }

    @Test
    public void absentOptionalFieldsStayNull() {
        Row row = (Row) RowTypes.toExternal(RowTypes.parse(TYPE), new Object[] {"auth", null, null, null, null, new Object[0]});
        assertNull(row.getField(1));
        assertEquals(0, ((Row[]) row.getField(5)).length);
    }

    @Test(expected = IllegalStateException.class)
    public void wrongFieldCountIsAnError() {
        RowTypes.toExternal(RowTypes.parse(TYPE), new Object[] {"auth"});
    }
}
