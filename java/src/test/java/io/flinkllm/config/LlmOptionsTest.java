package io.flinkllm.config;

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
    public void everyOptionParses() {
        LlmOptions o = LlmOptions.resolve("error-column=true; max-tokens=64; timeout=1500 ms; context-overflow-action=truncated-head", null);
        assertTrue(o.errorColumn);
        assertEquals(64, o.maxTokens);
        assertEquals(1500, o.timeoutMillis);
        assertEquals(LlmOptions.ContextOverflow.TRUNCATED_HEAD, o.contextOverflow);
        assertEquals("truncated-head", o.contextOverflow.engineSetting());
        assertEquals("error", LlmOptions.resolve("context-overflow-action=skipped", null).contextOverflow.engineSetting());
        assertEquals(30_000, LlmOptions.resolve("timeout=30s", null).timeoutMillis);
        LlmOptions d = LlmOptions.resolve(null, null);
        assertEquals(false, d.errorColumn);
        assertEquals(0, d.maxTokens);
        assertEquals(0, d.timeoutMillis);
        assertEquals(null, d.contextOverflow);
    }

    @Test
    public void engineKeySeparatesOnlyWhatTheEngineSees() {
        assertEquals(LlmOptions.resolve("error-handling-strategy=ignore; timeout=1s", null).engineKey(), LlmOptions.resolve(null, null).engineKey());
        assertEquals(LlmOptions.resolve("context-overflow-action=skipped", null).engineKey(),
                LlmOptions.resolve("context-overflow-action=failover", null).engineKey());
        assertTrue(!LlmOptions.resolve("max-tokens=5", null).engineKey().equals(LlmOptions.resolve(null, null).engineKey()));
    }

    @Test
    public void batchSize() {
        assertEquals(LlmOptions.DEFAULT_BATCH_SIZE, LlmOptions.resolve(null, null).batchSize);
        assertEquals(LlmOptions.DEFAULT_BATCH_SIZE, LlmOptions.defaults().batchSize);
        assertEquals(1, LlmOptions.resolve("batch-size=1", null).batchSize);
        assertEquals(8, LlmOptions.resolve(" batch-size = 8 ;", null).batchSize);
        Configuration conf = new Configuration();
        conf.setString("flinkllm.batch-size", "4");
        assertEquals(4, LlmOptions.resolve(null, conf).batchSize);
        assertEquals(2, LlmOptions.resolve("batch-size=2", conf).batchSize);
        assertTrue("the engine batches per setting, so it is part of the key",
                !LlmOptions.resolve("batch-size=1", null).engineKey().equals(LlmOptions.resolve(null, null).engineKey()));
        assertEquals(LlmOptions.resolve("batch-size=" + LlmOptions.DEFAULT_BATCH_SIZE, null).engineKey(), LlmOptions.resolve(null, null).engineKey());
        assertFails("batch-size=0", "batch-size must be a whole number >= 1");
        assertFails("batch-size=-3", "batch-size must be a whole number >= 1");
        assertFails("batch-size=lots", "batch-size must be a whole number >= 1");
        assertFails("batch_size=4", "unknown option 'batch_size'");
    }

    @Test
    public void systemPropertyIsTheLastFallback() {
        System.setProperty("flinkllm.max-tokens", "7");
        try {
            assertEquals(7, LlmOptions.resolve(null, new Configuration()).maxTokens);
            Configuration conf = new Configuration();
            conf.setString("flinkllm.max-tokens", "9");
            assertEquals(9, LlmOptions.resolve(null, conf).maxTokens);
            assertEquals(11, LlmOptions.resolve("max-tokens=11", conf).maxTokens);
        } finally {
            System.clearProperty("flinkllm.max-tokens");
        }
    }

    @Test
    public void badOptionsNameTheProblem() {
        assertFails("max_tokens=3", "unknown option 'max_tokens'");
        assertFails("error-handling-strategy", "expected key=value");
        assertFails("error-handling-strategy=retry", "failover | ignore");
        assertFails("max-tokens=0", "max-tokens must be a whole number >= 1");
        assertFails("max-tokens=many", "max-tokens must be a whole number >= 1");
        assertFails("timeout=soon", "timeout must be a duration");
        assertFails("timeout=0 s", "timeout must be longer than 0");
        assertFails("error-column=yes", "error-column must be true or false");
        assertFails("context-overflow-action=truncate", "truncated-tail | truncated-head | skipped | failover");
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
