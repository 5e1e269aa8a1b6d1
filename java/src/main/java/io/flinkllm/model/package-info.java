/**
 * The model provider: {@code CREATE MODEL ... WITH ('provider' = 'flinkllm')} and
 * {@code ML_PREDICT}, where the OUTPUT columns are the JSON schema every answer matches.
 */
package io.flinkllm.model;
