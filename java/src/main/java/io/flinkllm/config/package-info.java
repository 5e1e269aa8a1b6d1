/**
 * flinkllm's options, declared once as Flink {@code ConfigOption}s for every entry point.
 * Internal: users set them by name in SQL.
 */
package io.flinkllm.config;
