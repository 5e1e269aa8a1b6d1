package io.flinkllm.call;

import io.flinkllm.InputTooLongException;
import io.flinkllm.LlmException;
import io.flinkllm.config.LlmOptions;

/**
 * What a failed row becomes, from the options: the job fails ({@link #fail}), or the row
 * continues with a NULL result / a ROW whose only set field is {@code error}.
 *
 * <p>{@code context-overflow-action} outranks {@code error-handling-strategy} for inputs too
 * long for the context window: {@code skipped} continues and {@code failover} fails whatever
 * the strategy says; every other error follows the strategy.
 */
final class ErrorPolicy {
    /** How a row ended, for metrics and logs. */
    enum Outcome {
        FAIL,
        IGNORED,
        SKIPPED
    }

    private final LlmOptions options;
    /** {@code llm()} or {@code ML_PREDICT}. */
    private final String caller;
    /** The task file or model, as errors name it. */
    private final String task;

    ErrorPolicy(LlmOptions options, String caller, String task) {
        this.options = options;
        this.caller = caller;
        this.task = task;
    }

    Outcome decide(LlmException e) {
        if (e instanceof InputTooLongException && options.contextOverflow == LlmOptions.ContextOverflow.SKIPPED) {
            return Outcome.SKIPPED;
        }
        if (e instanceof InputTooLongException && options.contextOverflow == LlmOptions.ContextOverflow.FAILOVER) {
            return Outcome.FAIL;
        }
        return options.errorHandling == LlmOptions.ErrorHandling.IGNORE ? Outcome.IGNORED : Outcome.FAIL;
    }

    /** Characters of the row's input an error that fails the job quotes. */
    static final int QUOTED_INPUT_CHARS = 100;

    /**
     * The exception that fails the job: the task, the kind, the row (the start of its input:
     * a scalar function sees no key or offset) and which option would have let the row through.
     */
    LlmException fail(String input, LlmException e) {
        String hint = e instanceof InputTooLongException && options.contextOverflow == LlmOptions.ContextOverflow.FAILOVER
                ? LlmOptions.CONTEXT_OVERFLOW_ACTION.key() + "=failover; truncated-tail (the default), truncated-head or skipped keep the job running"
                : LlmOptions.ERROR_HANDLING_STRATEGY.key() + "=failover; set it to ignore to emit NULL instead";
        return new LlmException(e.kind(), caller + " failed on task " + task + " (" + e.kind() + ") for the row whose input starts "
                + quote(input) + ": " + e.getMessage() + " [" + hint + "]", e);
    }

    /** The first {@link #QUOTED_INPUT_CHARS} characters of the input, quoted, line breaks escaped. */
    static String quote(String input) {
        if (input == null) {
            return "NULL";
        }
        int end = input.offsetByCodePoints(0, Math.min(QUOTED_INPUT_CHARS, input.codePointCount(0, input.length())));
        String head = input.substring(0, end).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\"", "\\\"");
        return "\"" + head + "\"" + (end < input.length() ? "... (" + input.length() + " chars)" : "");
    }

    /** The reason a continued row carries (error column, {@code error-string} metadata column). */
    static String reason(Outcome outcome, LlmException e) {
        return (outcome == Outcome.SKIPPED ? "skipped: " : "") + e.kind() + ": " + e.getMessage();
    }
}
