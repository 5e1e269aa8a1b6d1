/** The {@code flinkllm} metric group of an operator. Internal. */
package io.flinkllm.metrics;
