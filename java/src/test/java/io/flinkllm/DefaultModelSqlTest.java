package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.junit.Test;

/**
 * The real default model (the repo's tasks/support_ticket.task.json) on a handful of
 * support tickets through SQL on the MiniCluster: every row must satisfy the schema.
 */
public class DefaultModelSqlTest {
    private static final int TICKETS = 5;

    @Test
    public void supportTicketsAreSchemaValid() throws Exception {
        Path task = TestSupport.requireFile(TestSupport.repoRoot().resolve("tasks/support_ticket.task.json"), "the seed task files live in tasks/");
        Path tickets = TestSupport.requireFile(TestSupport.sharedDir().resolve("datasets/support_tickets.jsonl"), "../shared/datasets is part of the checkout");
        List<String> lines = Files.readAllLines(tickets).stream().filter(l -> !l.trim().isEmpty()).limit(TICKETS).collect(Collectors.toList());
        Path input = TestSupport.write(Files.createTempDirectory("tickets").resolve("tickets.jsonl"), String.join("\n", lines) + "\n");
        JsonNode schema = schemaOf(task);

        TableEnvironment env = TestSupport.tableEnv(1);
        env.executeSql("CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction'");
        TestSupport.jsonSource(env, "tickets", "event_id STRING, message STRING", input);
        List<Row> rows = TestSupport.collect(env, "SELECT event_id, llm(" + TestSupport.sqlString(task.toString()) + ", message) FROM tickets");

        assertEquals(TICKETS, rows.size());
        for (Row row : rows) {
            Row r = (Row) row.getField(1);
            assertNotNull("ticket " + row.getField(0), r);
            System.out.println(row.getField(0) + " -> " + r);
            assertSchemaValid(schema, r);
        }
    }

    static JsonNode schemaOf(Path task) throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode spec = json.readTree(task.toFile());
        return spec.has("schema") ? spec.get("schema") : json.readTree(task.resolveSibling(spec.get("schema_file").asText()).toFile());
    }

    /** The keywords this schema uses: required, string, enum, maxLength, additionalProperties false. */
    static void assertSchemaValid(JsonNode schema, Row r) {
        int i = 0;
        for (Map.Entry<String, JsonNode> property : (Iterable<Map.Entry<String, JsonNode>>) schema.get("properties")::fields) {
            String name = property.getKey();
            JsonNode rule = property.getValue();
            Object value = r.getField(i++);
            boolean required = false;
            for (JsonNode req : schema.get("required")) {
                required |= req.asText().equals(name);
            }
            if (value == null) {
                assertTrue(name + " is required", !required);
                continue;
            }
            assertTrue(name + " should be a string", value instanceof String);
            String text = (String) value;
            if (rule.has("enum")) {
                boolean found = false;
                for (JsonNode allowed : rule.get("enum")) {
                    found |= allowed.asText().equals(text);
                }
                assertTrue(name + "=" + text + " not in " + rule.get("enum"), found);
            }
            if (rule.has("maxLength")) {
                assertTrue(name + " longer than " + rule.get("maxLength"), text.codePointCount(0, text.length()) <= rule.get("maxLength").asInt());
            }
        }
        assertEquals("ROW arity = number of schema properties", i, r.getArity());
    }
}
