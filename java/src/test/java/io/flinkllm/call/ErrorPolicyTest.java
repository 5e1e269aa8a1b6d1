package io.flinkllm.call;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** How an error that fails the job quotes the row. */
public class ErrorPolicyTest {
    @Test
    public void quotedInputsAreCutAtAHundredCharacters() {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            text.append("😀a");
        }
        String quoted = ErrorPolicy.quote(text + "\nend");
        String head = quoted.substring(1, quoted.lastIndexOf("\"... "));
        assertEquals(quoted, 100, head.codePointCount(0, head.length()));
        assertTrue(quoted, head.startsWith("😀a😀a"));
        assertTrue(quoted, quoted.endsWith("\"... (184 chars)"));
        assertEquals("\"two\\nlines\"", ErrorPolicy.quote("two\nlines"));
    }
}
