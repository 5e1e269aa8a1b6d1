/**
 * The bridge to the Rust engine: the JNI entry points ({@link io.flinkllm.engine.Engine}),
 * loading the native libraries from the JAR ({@link io.flinkllm.engine.NativeLibrary}), and one
 * open task per task file and engine options per JVM ({@link io.flinkllm.engine.SharedTasks}).
 * Internal.
 */
package io.flinkllm.engine;
