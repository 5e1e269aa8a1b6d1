package io.flinkllm.engine;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Class loaders like the one Flink gives a {@code USING JAR} job: io.flinkllm classes and the
 * {@code native/} resources come from the loader's own URLs (child first), everything else
 * from the parent.
 */
final class IsolatedLoaders {
    private IsolatedLoaders() {}

    /**
     * @param withNativeLibraries add the staged {@code native/} folder (else no bundled library is visible)
     * @param withTestClasses also load the test classes (probes) child first
     */
    static ClassLoader create(boolean withNativeLibraries, boolean withTestClasses) throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(NativeLibrary.class.getProtectionDomain().getCodeSource().getLocation());
        if (withTestClasses) {
            urls.add(IsolatedLoaders.class.getProtectionDomain().getCodeSource().getLocation());
        }
        if (withNativeLibraries) {
            urls.add(Paths.get(System.getProperty("flinkllm.native.root")).toUri().toURL());
        }
        return new URLClassLoader(urls.toArray(new URL[0]), IsolatedLoaders.class.getClassLoader()) {
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
            public InputStream getResourceAsStream(String name) {
                URL url = getResource(name);
                try {
                    return url == null ? null : url.openStream();
                } catch (IOException e) {
                    return null;
                }
            }
        };
    }
}
