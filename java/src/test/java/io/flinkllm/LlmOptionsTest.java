package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.apache.flink.configuration.Configuration;
import org.junit.Test;

public class LlmOptionsTest {
    @Test
    public void defaultIsFailover() {
        assertEquals(LlmOptions.ErrorHandling.FAILOVER, LlmOptions.resolve(null, new Configuration()).errorHandling);
    }

    @Test
    public void jobConfigurationThenCallArgument() {
        Configuration conf = new Configuration();
        conf.setString("flinkllm.error-handling-strategy", "ignore");
        assertEquals(LlmOptions.ErrorHandling.IGNORE, LlmOptions.resolve(null, conf).errorHandling);
        assertEquals(LlmOptions.ErrorHandling.FAILOVER, LlmOptions.resolve("error-handling-strategy = failover", conf).errorHandling);
        assertEquals(LlmOptions.ErrorHandling.IGNORE, LlmOptions.resolve(" ; error-handling-strategy=IGNORE;", null).errorHandling);
    }

    @Test
    public void badOptionsNameTheProblem() {
        assertFails("max-tokens=3", "unknown option 'max-tokens'");
        assertFails("error-handling-strategy", "expected key=value");
        assertFails("error-handling-strategy=retry", "failover or ignore");
    }

    private static void assertFails(String options, String expected) {
        try {
            LlmOptions.resolve(options, null);
            fail("accepted " + options);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
    }
}
