package io.flinkllm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.nio.file.Paths;
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
        assertEquals("ONNX Runtime and libflinkllm come from one extraction", first.onnxRuntime.getParent(), first.flinkllm.getParent());
    }

    @Test
    public void twoClassLoadersLoadSideBySide() throws Exception {
        // What a redeploy with USING JAR does: the same JAR in a fresh class loader.
        Path a = loadIn(isolatedLoader(true));
        Path b = loadIn(isolatedLoader(true));
        assertNotEquals("each class loader gets its own copy of the library file", a, b);
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

    private static Path loadIn(ClassLoader loader) throws Exception {
        Object loaded = loader.loadClass(NativeLibrary.class.getName()).getMethod("load").invoke(null);
        return (Path) loaded.getClass().getField("flinkllm").get(loaded);
    }

    /** Loads io.flinkllm classes itself (child first), everything else from the test's loader. */
    private static ClassLoader isolatedLoader(boolean withNativeLibraries) throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(NativeLibrary.class.getProtectionDomain().getCodeSource().getLocation());
        if (withNativeLibraries) {
            urls.add(Paths.get(System.getProperty("flinkllm.native.root")).toUri().toURL());
        }
        ClassLoader parent = NativeLibraryTest.class.getClassLoader();
        return new URLClassLoader(urls.toArray(new URL[0]), parent) {
            @Override
            protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
                synchronized (getClassLoadingLock(name)) {
                    if (!name.startsWith("io.flinkllm.")) {
                        return super.loadClass(name, resolve);
                    }
                    Class<?> c = findLoadedClass(name);
                    return c != null ? c : findClass(name);
                }
            }

            @Override
            public URL getResource(String name) {
                // Resources (native/...) only from this loader's own URLs.
                return name.startsWith("native/") ? findResource(name) : super.getResource(name);
            }

            @Override
            public java.io.InputStream getResourceAsStream(String name) {
                URL url = getResource(name);
                try {
                    return url == null ? null : url.openStream();
                } catch (java.io.IOException e) {
                    return null;
                }
            }
        };
    }
}
