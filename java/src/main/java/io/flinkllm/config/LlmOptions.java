package io.flinkllm.config;

import static org.apache.flink.configuration.ConfigOptions.key;

import java.io.Serializable;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The options of flinkllm, declared once as Flink {@link ConfigOption}s (typed, with defaults
 * and descriptions) for every entry point: the functions' call options and, with the same
 * names, a model provider's {@code WITH} options. An {@code llm(...)} call resolves each,
 * first match wins:
 *
 * <ol>
 *   <li>in the call, as an optional third STRING literal: {@code llm(task, message,
 *       'error-handling-strategy=ignore; max-tokens=64')} (entries separated by {@code ;});
 *   <li>in the job configuration as {@code flinkllm.<option>}, e.g. {@code SET
 *       'flinkllm.error-handling-strategy' = 'ignore';} in the SQL client;
 *   <li>as a JVM system property {@code flinkllm.<option>} of the planning process.
 * </ol>
 *
 * Names follow Flink's own model providers where the meaning is the same.
 */
public final class LlmOptions implements Serializable {
    private static final long serialVersionUID = 4L;

    /** Prefix of the options in the job configuration and as system properties. */
    public static final String PREFIX = "flinkllm.";

    /**
     * Engine rows per forward pass unless {@code batch-size} says otherwise, for both functions:
     * concurrent rows of one task in a task manager (sync calls from several slots, async rows)
     * share forward passes. 8, not 16: on 2 cores 16 rows per pass gave 2.5% more rows/s than 8
     * for 60% more native memory and twice the latency (README, Benchmarks).
     */
    public static final int DEFAULT_BATCH_SIZE = 8;

    /** What a failed row becomes. */
    public enum ErrorHandling {
        /** The job fails with the reason (Flink restarts it per its restart strategy). */
        FAILOVER,
        /** The row's result is NULL (or only its error column is set); the reason is logged and counted. */
        IGNORE;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What an input too long for the context window becomes. */
    public enum ContextOverflow {
        TRUNCATED_TAIL("truncated-tail"),
        TRUNCATED_HEAD("truncated-head"),
        SKIPPED("skipped"),
        FAILOVER("failover");

        private final String text;

        ContextOverflow(String text) {
            this.text = text;
        }

        /** The engine's own setting for this action: it truncates; skip/failover are decided here. */
        public String engineSetting() {
            return this == TRUNCATED_TAIL || this == TRUNCATED_HEAD ? text : "error";
        }

        /** The option's value as written (Flink matches enum values by this). */
        @Override
        public String toString() {
            return text;
        }
    }

    public static final ConfigOption<ErrorHandling> ERROR_HANDLING_STRATEGY = key("error-handling-strategy")
            .enumType(ErrorHandling.class)
            .defaultValue(ErrorHandling.FAILOVER)
            .withDescription("failover: a failed row fails the job; ignore: its result is NULL, the reason is logged and counted.");

    public static final ConfigOption<Boolean> ERROR_COLUMN = key("error-column")
            .booleanType()
            .defaultValue(false)
            .withDescription("true: the ROW gets a last nullable 'error' STRING field and every schema field becomes nullable; a failed "
                    + "row that continues carries only the reason. It changes the ROW type, so the planner must see it: give it in the "
                    + "call or as a system property.");

    public static final ConfigOption<String> MODEL = key("model")
            .stringType()
            .noDefaultValue()
            .withDescription("A model name (looked up in the models directory) or model directory instead of the task file's: "
                    + "compare models or precisions by editing SQL only. Planning never loads it (the ROW type comes from the schema).");

    public static final ConfigOption<Integer> MAX_TOKENS = key("max-tokens")
            .intType()
            .noDefaultValue()
            .withDescription("Overrides the task's max_new_tokens (whose default is the longest answer the schema allows).");

    public static final ConfigOption<Duration> TIMEOUT = key("timeout")
            .durationType()
            .noDefaultValue()
            .withDescription("Per-row limit ('500 ms', '30 s'); a row over it fails with kind RowTimeout. Default: none.");

    public static final ConfigOption<ContextOverflow> CONTEXT_OVERFLOW_ACTION = key("context-overflow-action")
            .enumType(ContextOverflow.class)
            .noDefaultValue()
            .withDescription("Input too long for the context window: truncated-tail / truncated-head drop tokens at its end / start; "
                    + "skipped: NULL result whatever the strategy; failover: the job fails whatever the strategy. Unset: the task "
                    + "file's context_overflow_action, whose default is truncated-tail.");

    public static final ConfigOption<Integer> BATCH_SIZE = key("batch-size")
            .intType()
            .defaultValue(DEFAULT_BATCH_SIZE)
            .withDescription("Most rows of one task sharing a forward pass in the engine (rows running at the same time in the task "
                    + "manager); 1: every row alone on its caller's thread. Results are the same for every value.");

    public static final ConfigOption<String> TASKS_DIR = key("tasks.dir")
            .stringType()
            .noDefaultValue()
            .withDescription("Folder for relative task file names (also the environment variable FLINKLLM_TASKS_DIR).");

    // ------------------------------------------------ model provider only (CREATE MODEL ... WITH)
    // The task's own keys (task, system-prompt, temperature, ...) are the engine's: the provider
    // forwards them as written and the engine checks them (io.flinkllm.engine.TaskKeys).

    public static final ConfigOption<String> TASK_FILE = key("task-file")
            .stringType()
            .noDefaultValue()
            .withDescription("A task file (absolute, or relative to flinkllm.tasks.dir) instead of the prompt options; its schema must "
                    + "agree with the OUTPUT columns.");

    public static final ConfigOption<String> INPUT_TEMPLATE = key("input-template")
            .stringType()
            .noDefaultValue()
            .withDescription("The user turn, with {column} naming INPUT columns. Default: the single INPUT column's text. Its text "
                    + "before the first and after the last column goes to the engine as the task's input_template, so it stays "
                    + "in the cached prompt and is never cut from a long input.");

    public static final ConfigOption<String> ERROR_STRING_COLUMN = key("error-string-column")
            .stringType()
            .noDefaultValue()
            .withDescription("A STRING OUTPUT column that is not answered by the model but holds why a row failed (NULL when it did "
                    + "not): with error-handling-strategy=ignore the row keeps its input, NULL answers and this reason. Flink 2.3 refuses "
                    + "METADATA columns in CREATE MODEL, so this stands in for the openai provider's 'error-string' metadata.");

    /** Per-column constraints: {@code output.<column>[.<field>...].<keyword>}. */
    public static final String OUTPUT_PREFIX = "output.";

    /** Options a call literal may carry (tasks.dir names a file location, not a row policy). */
    public static final List<ConfigOption<?>> CALL_OPTIONS =
            Arrays.asList(MODEL, ERROR_HANDLING_STRATEGY, ERROR_COLUMN, MAX_TOKENS, TIMEOUT, CONTEXT_OVERFLOW_ACTION, BATCH_SIZE);

    /** Options of the provider itself; every other WITH key but output.* is the task's, for the engine. */
    public static final List<ConfigOption<?>> PROVIDER_OPTIONS = Arrays.asList(MODEL, TASK_FILE, INPUT_TEMPLATE, MAX_TOKENS, BATCH_SIZE,
            TIMEOUT, ERROR_HANDLING_STRATEGY, ERROR_STRING_COLUMN, CONTEXT_OVERFLOW_ACTION);

    /** null = the task file's model. */
    public final String model;
    public final ErrorHandling errorHandling;
    public final boolean errorColumn;
    /** 0 = the task file's max_new_tokens. */
    public final long maxTokens;
    /** 0 = no limit. */
    public final long timeoutMillis;
    /** null = the task file's context_overflow_action. */
    public final ContextOverflow contextOverflow;
    /** Engine rows per forward pass; 1 = no batching. */
    public final int batchSize;

    private LlmOptions(ReadableConfig options) {
        this.model = options.getOptional(MODEL).filter(m -> !m.trim().isEmpty()).map(String::trim).orElse(null);
        this.errorHandling = options.get(ERROR_HANDLING_STRATEGY);
        this.errorColumn = options.get(ERROR_COLUMN);
        this.maxTokens = options.getOptional(MAX_TOKENS).orElse(0);
        this.timeoutMillis = options.getOptional(TIMEOUT).map(d -> Math.max(1, d.toMillis())).orElse(0L);
        this.contextOverflow = options.getOptional(CONTEXT_OVERFLOW_ACTION).orElse(null);
        this.batchSize = options.get(BATCH_SIZE);
    }

    /** A model provider's options, from its {@code WITH} clause only. */
    public static LlmOptions fromModel(Map<String, String> withOptions) {
        Configuration options = Configuration.fromMap(withOptions);
        validate(options);
        return new LlmOptions(options);
    }

    public static LlmOptions defaults() {
        return new LlmOptions(new Configuration());
    }

    /** Resolves options from the call literal (may be null), then config (may be null), then system properties. */
    public static LlmOptions resolve(String callOptions, ReadableConfig config) {
        Map<String, String> call = parseCallOptions(callOptions);
        Map<String, String> given = new LinkedHashMap<>();
        for (ConfigOption<?> option : CALL_OPTIONS) {
            String value = lookup(option, call, config);
            if (value != null) {
                given.put(option.key(), value);
            }
        }
        Configuration options = Configuration.fromMap(given);
        validate(options);
        return new LlmOptions(options);
    }

    /**
     * Checks every given value through its option's own type, with messages that name the
     * option and what it takes; {@code options} holds the raw strings.
     */
    public static void validate(Configuration options) {
        Map<String, String> raw = options.toMap();
        check(options, raw, ERROR_HANDLING_STRATEGY, "failover | ignore", v -> true);
        check(options, raw, ERROR_COLUMN, "true or false", v -> true);
        check(options, raw, MAX_TOKENS, "a whole number >= 1", v -> v >= 1);
        check(options, raw, TIMEOUT, "a duration such as '500 ms' or '30 s'", v -> true);
        check(options, raw, CONTEXT_OVERFLOW_ACTION, Arrays.stream(ContextOverflow.values()).map(Object::toString).collect(Collectors.joining(" | ")),
                v -> true);
        check(options, raw, BATCH_SIZE, "a whole number >= 1", v -> v >= 1);
        options.getOptional(TIMEOUT).filter(d -> d.isZero() || d.isNegative()).ifPresent(d -> {
            throw new IllegalArgumentException(TIMEOUT.key() + " must be longer than 0, got '" + raw.get(TIMEOUT.key()) + "'");
        });
    }

    private static <T> void check(Configuration options, Map<String, String> raw, ConfigOption<T> option, String expected,
            java.util.function.Predicate<T> valid) {
        String given = raw.get(option.key());
        if (given == null) {
            return;
        }
        T value;
        try {
            value = options.get(option);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option.key() + " must be " + expected + ", got '" + given + "'", e);
        }
        if (!valid.test(value)) {
            throw new IllegalArgumentException(option.key() + " must be " + expected + ", got '" + given + "'");
        }
    }

    /**
     * The options that shape the native task, as the JSON object the engine reads
     * ({@code Engine.plan}, {@code Engine.open}); tasks with different ones are opened
     * separately, in Java and in the engine.
     */
    public String engineKey() {
        ObjectNode doc = JSON.createObjectNode();
        if (model != null) {
            doc.put("model", model);
        }
        if (maxTokens > 0) {
            doc.put("max-tokens", maxTokens);
        }
        if (contextOverflow != null) {
            doc.put("context-overflow-action", contextOverflow.engineSetting());
        }
        doc.put("batch-size", batchSize);
        return doc.toString();
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The option's raw value: the call literal's, else the job configuration's {@code flinkllm.<key>}, else the system property. */
    public static String lookup(ConfigOption<?> option, Map<String, String> call, ReadableConfig config) {
        if (call != null && call.containsKey(option.key())) {
            return call.get(option.key());
        }
        if (config != null) {
            String value = config.get(key(PREFIX + option.key()).stringType().noDefaultValue());
            if (value != null) {
                return value;
            }
        }
        return System.getProperty(PREFIX + option.key());
    }

    static Map<String, String> parseCallOptions(String text) {
        Map<String, String> options = new LinkedHashMap<>();
        if (text == null) {
            return options;
        }
        List<String> known = CALL_OPTIONS.stream().map(ConfigOption::key).collect(Collectors.toList());
        for (String entry : text.split(";")) {
            if (entry.trim().isEmpty()) {
                continue;
            }
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("llm() options: expected key=value, got '" + entry.trim() + "' in '" + text + "'");
            }
            String key = entry.substring(0, eq).trim();
            if (!known.contains(key)) {
                throw new IllegalArgumentException("llm() options: unknown option '" + key + "' (known: " + String.join(", ", known) + ")");
            }
            options.put(key, entry.substring(eq + 1).trim());
        }
        return options;
    }
}
