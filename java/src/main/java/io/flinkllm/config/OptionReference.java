package io.flinkllm.config;

import io.flinkllm.engine.TaskKeys;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.description.HtmlFormatter;

/**
 * The option reference ({@code docs/options.md}), written from the options' own declarations:
 * the engine's task keys ({@link TaskKeys}) and the Flink options of {@link LlmOptions}. A test
 * ({@code OptionReferenceTest}) keeps the file equal to what this writes.
 */
public final class OptionReference {
    private OptionReference() {}

    public static String markdown() {
        StringBuilder out = new StringBuilder();
        out.append("# Options\n\n")
                .append("Written from the code's option declarations (`FLINKLLM_UPDATE_DOCS=1 gradle test --tests '*OptionReferenceTest'` "
                        + "rewrites it; the test fails when it is stale).\n\n")
                .append("## The task's keys\n\n")
                .append("The engine owns them: a task file writes them in snake_case, `CREATE MODEL ... WITH` in kebab-case (values as "
                        + "strings, read as the key's type). Both are checked by the same rules: an unknown key, or one that does not "
                        + "apply to the task's kind, is refused naming the key as it was written. With `'task-file'`, they belong in "
                        + "the task file.\n\n")
                .append("| task file | `WITH` | applies to | value | meaning |\n| --- | --- | --- | --- | --- |\n");
        for (TaskKeys.Key k : TaskKeys.all()) {
            String sql = "`" + k.sqlName() + "`" + (k.alias == null ? "" : " or `" + k.alias + "`");
            out.append("| `").append(k.name).append("` | ").append(sql).append(" | ").append(k.applies).append(" | ").append(k.type)
                    .append(" | ").append(cell(k.doc)).append(" |\n");
        }
        out.append("\n## The functions' and the provider's options\n\n")
                .append("Flink-side options: how rows fail, time out, batch and overflow. `llm()`, `llm_async()` and `embed()` take "
                        + "the call options, first match wins: a third STRING literal in the call (`llm(task, msg, "
                        + "'error-handling-strategy=ignore; timeout=30 s')`), `SET 'flinkllm.<option>'` in the job, or "
                        + "`-Dflinkllm.<option>` of the planning JVM. `CREATE MODEL` takes them in its `WITH` clause, with the "
                        + "provider's own options and `output.<column>.<keyword>`.\n\n")
                .append("| option | where | default | meaning |\n| --- | --- | --- | --- |\n");
        Set<ConfigOption<?>> all = new LinkedHashSet<>(LlmOptions.CALL_OPTIONS);
        all.addAll(LlmOptions.PROVIDER_OPTIONS);
        all.add(LlmOptions.TASKS_DIR);
        for (ConfigOption<?> o : all) {
            List<String> where = new ArrayList<>();
            if (LlmOptions.CALL_OPTIONS.contains(o)) {
                where.add("call");
            }
            if (LlmOptions.PROVIDER_OPTIONS.contains(o)) {
                where.add("`CREATE MODEL`");
            }
            if (o == LlmOptions.TASKS_DIR) {
                where.add("`SET`, `-D`");
            }
            String def = o.hasDefaultValue() ? "`" + o.defaultValue() + "`" : "";
            out.append("| `").append(o.key()).append("` | ").append(String.join(", ", where)).append(" | ").append(def).append(" | ")
                    .append(cell(new HtmlFormatter().format(o.description()))).append(" |\n");
        }
        return out.toString();
    }

    private static String cell(String text) {
        return text.replace("|", "\\|").replace("\n", " ");
    }

    public static void main(String[] args) {
        System.out.print(markdown());
    }
}
