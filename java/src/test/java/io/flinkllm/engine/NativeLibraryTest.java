package io.flinkllm.engine;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.lang.reflect.InvocationTargetException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.Test;

public class NativeLibraryTest {
    @Test
    public void platformNameMatchesTheJarLayout() {
        assertTrue(NativeLibrary.platform(), NativeLibrary.platform().matches("(linux|macos|windows)-(x86_64|aarch64)"));
    }

    @Test
    public void concurrentLoadsShareOneExtraction() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<NativeLibrary.Loaded>> results = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            results.add(pool.submit((Callable<NativeLibrary.Loaded>) NativeLibrary::load));
        }
        NativeLibrary.Loaded first = results.get(0).get();
        for (Future<NativeLibrary.Loaded> f : results) {
            assertSame(first, f.get());
        }
        pool.shutdown();
        assertTrue("libflinkllm in a private folder: " + first.flinkllm, first.flinkllm.getParent().getFileName().toString().startsWith("flinkllm-native-"));
        assertTrue("ONNX Runtime in its content-addressed folder: " + first.onnxRuntime, first.onnxRuntime.getParent().getFileName().toString().matches("flinkllm-[0-9a-f]{16}"));
    }

    @Test
    public void twoClassLoadersLoadSideBySide() throws Exception {
        // What a redeploy with USING JAR does: the same JAR in a fresh class loader.
        Path[] a = loadIn(isolatedLoader(true));
        Path[] b = loadIn(isolatedLoader(true));
        assertNotEquals("each class loader gets its own copy of libflinkllm", a[0], b[0]);
        assertEquals("every class loader binds the same ONNX Runtime file", a[1], b[1]);
        assertEquals("ONNX Runtime is the one this (test) class loader bound too", NativeLibrary.load().onnxRuntime, a[1]);
    }

    @Test
    public void failureListsEveryPathTried() throws Exception {
        // ONNX Runtime is tried first, so its candidates are the ones reported.
        System.setProperty(NativeLibrary.ORT_PATH_PROPERTY, "/nonexistent/libonnxruntime.so");
        System.setProperty(NativeLibrary.DIR_PROPERTY, "/nonexistent-dir");
        try {
            loadIn(isolatedLoader(false));
            fail("loaded without any library");
        } catch (InvocationTargetException e) {
            String message = e.getCause().getMessage();
            assertEquals("NativeLibraryException", e.getCause().getClass().getSimpleName());
            for (String expected : new String[] {"/nonexistent/libonnxruntime.so: no such file", "/nonexistent-dir/", "libraries.properties", NativeLibrary.ORT_PATH_PROPERTY}) {
                assertTrue(message + "\nlacks " + expected, message.contains(expected));
            }
        } finally {
            System.clearProperty(NativeLibrary.ORT_PATH_PROPERTY);
            System.clearProperty(NativeLibrary.DIR_PROPERTY);
        }
    }

    /** {libflinkllm, ONNX Runtime} as loaded in that class loader. */
    private static Path[] loadIn(ClassLoader loader) throws Exception {
        Object loaded = loader.loadClass(NativeLibrary.class.getName()).getMethod("load").invoke(null);
        return new Path[] {(Path) loaded.getClass().getField("flinkllm").get(loaded), (Path) loaded.getClass().getField("onnxRuntime").get(loaded)};
    }

    private static ClassLoader isolatedLoader(boolean withNativeLibraries) throws Exception {
        return IsolatedLoaders.create(withNativeLibraries, false);
    }
}
