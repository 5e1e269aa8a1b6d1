package io.flinkllm.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The keys of a task document as the engine declares them ({@link Engine#taskKeys}): the
 * provider lists them as {@code CREATE MODEL} options and forwards their values unchanged; the
 * engine reads and checks them (kind, type, range) for a task file and a {@code CREATE MODEL}
 * alike. Java keeps no copy of the list.
 */
public final class TaskKeys {
    /** One key: its task-file name, the kebab-case name SQL uses, an alias, the kinds it applies to. */
    public static final class Key {
        public final String name;
        public final String alias;
        public final String applies;
        public final String type;
        public final String doc;

        Key(JsonNode k) {
            this.name = k.get("name").asText();
            this.alias = k.get("alias").isNull() ? null : k.get("alias").asText();
            this.applies = k.get("applies").asText();
            this.type = k.get("type").asText();
            this.doc = k.get("doc").asText();
        }

        /** How a {@code WITH} clause writes it. */
        public String sqlName() {
            return name.replace('_', '-').toLowerCase(Locale.ROOT);
        }
    }

    private static volatile List<Key> keys;

    private TaskKeys() {}

    public static List<Key> all() {
        if (keys == null) {
            NativeLibrary.load();
            List<Key> read = new ArrayList<>();
            try {
                for (JsonNode k : new ObjectMapper().readTree(Engine.taskKeys())) {
                    read.add(new Key(k));
                }
            } catch (java.io.IOException e) {
                throw new IllegalStateException("the engine's task keys are not JSON", e);
            }
            keys = Collections.unmodifiableList(read);
        }
        return keys;
    }
}
