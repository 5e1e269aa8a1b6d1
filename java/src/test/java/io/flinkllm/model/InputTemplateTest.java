package io.flinkllm.model;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import java.util.Arrays;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.DoubleType;
import org.apache.flink.table.types.logical.VarCharType;
import org.junit.Test;

/** The input template's fixed ends go to the engine; a row carries only its values and what lies between them. */
public class InputTemplateTest {
    @Test
    public void theInstructionIsTheEnginesAndTheRowOnlyItsText() {
        InputTemplate t = InputTemplate.of("Comment: {message}\n\nIs a person attacked?", Arrays.asList("message"),
                Arrays.asList(VarCharType.STRING_TYPE));
        assertEquals("Comment: {input}\n\nIs a person attacked?", t.engineTemplate());
        assertEquals("you are wrong", t.render(GenericRowData.of(StringData.fromString("you are wrong"))));
        assertNull(t.render(GenericRowData.of((Object) null)));
    }

    @Test
    public void textBetweenColumnsTravelsWithTheRow() {
        InputTemplate t = InputTemplate.of("Product: {product} ({rating})\n{reviews}", Arrays.asList("product", "rating", "reviews"),
                Arrays.asList(VarCharType.STRING_TYPE, new DoubleType(), VarCharType.STRING_TYPE));
        assertEquals("Product: {input}", t.engineTemplate());
        assertEquals("Lamp (4.5)\nGreat", t.render(GenericRowData.of(StringData.fromString("Lamp"), 4.5, StringData.fromString("Great"))));
    }

    @Test
    public void aSingleColumnWithoutTemplateIsTheInputAlone() {
        InputTemplate t = InputTemplate.of(null, Arrays.asList("message"), Arrays.asList(VarCharType.STRING_TYPE));
        assertEquals("{input}", t.engineTemplate());
        assertEquals("x", t.render(GenericRowData.of(StringData.fromString("x"))));
    }
}
