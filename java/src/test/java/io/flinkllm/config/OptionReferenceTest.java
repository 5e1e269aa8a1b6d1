package io.flinkllm.config;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Test;

/** {@code docs/options.md} is what the option declarations say ({@link OptionReference}). */
public class OptionReferenceTest {
    @Test
    public void theReferenceIsWrittenFromTheDeclarations() throws Exception {
        Path doc = Paths.get(System.getProperty("flinkllm.repo.dir"), "docs", "options.md");
        String written = OptionReference.markdown();
        assertTrue(written, written.contains("| `temperature` | `temperature` | text_generation | number |"));
        assertTrue(written, written.contains("| `max_new_tokens` | `max-new-tokens` or `max-tokens` |"));
        assertTrue(written, written.contains("| `error-handling-strategy` | call, `CREATE MODEL` | `failover` |"));
        if ("1".equals(System.getenv("FLINKLLM_UPDATE_DOCS"))) {
            Files.write(doc, written.getBytes(StandardCharsets.UTF_8));
        }
        assertEquals("docs/options.md is stale: run FLINKLLM_UPDATE_DOCS=1 gradle test --tests '*OptionReferenceTest'", written,
                new String(Files.readAllBytes(doc), StandardCharsets.UTF_8));
    }
}
