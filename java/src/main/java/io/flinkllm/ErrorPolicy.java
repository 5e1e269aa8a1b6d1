package io.flinkllm;

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

    ErrorPolicy(LlmOptions options) {
        this.options = options;
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

    /** The exception that fails the job: the task, the kind, and which option would have let the row through. */
    LlmException fail(String taskPath, LlmException e) {
        String hint = e instanceof InputTooLongException && options.contextOverflow == LlmOptions.ContextOverflow.FAILOVER
                ? LlmOptions.CONTEXT_OVERFLOW_ACTION + "=failover; truncated-tail, truncated-head or skipped keep the job running"
                : LlmOptions.ERROR_HANDLING_STRATEGY + "=failover; set it to ignore to emit NULL instead";
        return new LlmException("llm() failed on task " + taskPath + " (" + e.kind() + "): " + e.getMessage() + " [" + hint + "]", e);
    }

    /** The value of a row that continues: NULL, or with the error column a ROW holding only the reason. */
    Object[] continued(Outcome outcome, LlmException e, int schemaFields) {
        if (!options.errorColumn) {
            return null;
        }
        Object[] fields = new Object[schemaFields + 1];
        fields[schemaFields] = (outcome == Outcome.SKIPPED ? "skipped: " : "") + e.kind() + ": " + e.getMessage();
        return fields;
    }
}
