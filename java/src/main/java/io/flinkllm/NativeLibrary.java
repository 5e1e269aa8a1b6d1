package io.flinkllm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads ONNX Runtime and libflinkllm once per class loader.
 *
 * <p>For each library, the first candidate that loads wins:
 *
 * <ol>
 *   <li>an explicit file: system property {@code flinkllm.onnxruntime.path} / env
 *       {@code ORT_DYLIB_PATH}, and {@code flinkllm.library.path} / env {@code
 *       FLINKLLM_LIBRARY_PATH};
 *   <li>a folder of pre-installed libraries: {@code flinkllm.native.dir} / env {@code
 *       FLINKLLM_NATIVE_DIR}, holding the same file names as the JAR;
 *   <li>the copy bundled in the JAR under {@code native/<os>-<arch>/}, extracted to a fresh
 *       temp folder: a file already loaded by another class loader (a Flink job redeployed
 *       with {@code USING JAR}) cannot be loaded again, a new path can.
 * </ol>
 *
 * ONNX Runtime is loaded first and its path handed to the engine, which binds to that same
 * library instead of searching the system for one. A failure lists every path tried.
 */
public final class NativeLibrary {
    private static final Logger LOG = LoggerFactory.getLogger(NativeLibrary.class);

    public static final String ORT_PATH_PROPERTY = "flinkllm.onnxruntime.path";
    public static final String ORT_PATH_ENV = "ORT_DYLIB_PATH";
    public static final String LIB_PATH_PROPERTY = "flinkllm.library.path";
    public static final String LIB_PATH_ENV = "FLINKLLM_LIBRARY_PATH";
    public static final String DIR_PROPERTY = "flinkllm.native.dir";
    public static final String DIR_ENV = "FLINKLLM_NATIVE_DIR";

    /** Written next to the libraries by the build: logical name → file name, per platform. */
    static final String INDEX = "libraries.properties";

    /** The two libraries, in load order; keys of {@link #INDEX}. */
    private static final String ORT = "onnxruntime";
    private static final String FLINKLLM = "flinkllm";

    /** Where the libraries came from; immutable once loaded. */
    public static final class Loaded {
        public final Path onnxRuntime;
        public final Path flinkllm;

        Loaded(Path onnxRuntime, Path flinkllm) {
            this.onnxRuntime = onnxRuntime;
            this.flinkllm = flinkllm;
        }
    }

    private static Loaded loaded;
    private static NativeLibraryException failure;

    private NativeLibrary() {}

    /**
     * Loads both libraries unless this class loader already did. Safe to call from many
     * slots at once: one thread loads, the others wait and share the result (or the failure,
     * which is not retried: a half-loaded native state is not something to load over).
     */
    public static synchronized Loaded load() {
        if (loaded != null) {
            return loaded;
        }
        if (failure != null) {
            throw failure;
        }
        try {
            loaded = loadNow();
            return loaded;
        } catch (NativeLibraryException e) {
            failure = e;
            throw e;
        }
    }

    /** {@code linux-x86_64}, {@code linux-aarch64}, {@code macos-aarch64}, ... */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "macos" : os.startsWith("windows") ? "windows" : os.replaceAll("\\W", "");
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return osName + "-" + archName;
    }

    private static Loaded loadNow() {
        List<String> tried = new ArrayList<>();
        String resourceDir = "native/" + platform() + "/";
        Properties names = bundledIndex(resourceDir, tried);
        Path tempDir = null;
        Path[] paths = new Path[2];
        String[] libs = {ORT, FLINKLLM};
        for (int i = 0; i < libs.length; i++) {
            String lib = libs[i];
            String fileName = names.getProperty(lib, defaultFileName(lib));
            List<Path> candidates = new ArrayList<>();
            String explicit = setting(lib.equals(ORT) ? ORT_PATH_PROPERTY : LIB_PATH_PROPERTY, lib.equals(ORT) ? ORT_PATH_ENV : LIB_PATH_ENV);
            if (explicit != null) {
                candidates.add(Paths.get(explicit));
            }
            String dir = setting(DIR_PROPERTY, DIR_ENV);
            if (dir != null) {
                candidates.add(Paths.get(dir, fileName));
            }
            for (Path candidate : candidates) {
                if (tryLoad(candidate, tried)) {
                    paths[i] = candidate;
                    break;
                }
            }
            if (paths[i] == null && !names.isEmpty()) {
                try {
                    if (tempDir == null) {
                        tempDir = Files.createTempDirectory("flinkllm-native-");
                        tempDir.toFile().deleteOnExit();
                    }
                    Path extracted = extract(resourceDir + fileName, tempDir.resolve(fileName));
                    if (tryLoad(extracted, tried)) {
                        paths[i] = extracted;
                    }
                } catch (IOException e) {
                    tried.add("classpath:" + resourceDir + fileName + ": " + e);
                }
            }
            if (paths[i] == null) {
                throw new NativeLibraryException("cannot load the " + lib + " library for " + platform() + "; tried:\n  " + String.join("\n  ", tried)
                        + "\nUse a flinkllm JAR built for this platform, or point " + (lib.equals(ORT) ? ORT_PATH_PROPERTY + " / " + ORT_PATH_ENV : LIB_PATH_PROPERTY + " / " + LIB_PATH_ENV)
                        + " (or " + DIR_PROPERTY + " / " + DIR_ENV + ") at a pre-installed copy.", null);
            }
        }
        try {
            Engine.init(paths[0].toString());
        } catch (LlmException e) {
            throw new NativeLibraryException("libflinkllm loaded from " + paths[1] + " but could not bind ONNX Runtime at " + paths[0] + ": " + e.getMessage(), e);
        }
        LOG.info("flinkllm native libraries loaded: onnxruntime={}, flinkllm={}", paths[0], paths[1]);
        return new Loaded(paths[0], paths[1]);
    }

    private static boolean tryLoad(Path path, List<String> tried) {
        Path absolute = path.toAbsolutePath();
        if (!Files.isRegularFile(absolute)) {
            tried.add(absolute + ": no such file");
            return false;
        }
        try {
            System.load(absolute.toString());
            return true;
        } catch (UnsatisfiedLinkError e) {
            tried.add(absolute + ": " + e.getMessage());
            return false;
        }
    }

    private static Properties bundledIndex(String resourceDir, List<String> tried) {
        Properties names = new Properties();
        try (InputStream in = NativeLibrary.class.getClassLoader().getResourceAsStream(resourceDir + INDEX)) {
            if (in == null) {
                tried.add("classpath:" + resourceDir + INDEX + ": not in this JAR (no bundled libraries for " + platform() + ")");
            } else {
                names.load(in);
            }
        } catch (IOException e) {
            tried.add("classpath:" + resourceDir + INDEX + ": " + e);
        }
        return names;
    }

    private static Path extract(String resource, Path target) throws IOException {
        try (InputStream in = NativeLibrary.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("listed in " + INDEX + " but missing from the JAR");
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        // The file is mapped once loaded; remove it when the JVM exits.
        target.toFile().deleteOnExit();
        return target;
    }

    private static String defaultFileName(String lib) {
        return System.mapLibraryName(lib);
    }

    private static String setting(String property, String env) {
        String value = System.getProperty(property);
        if (value == null || value.isEmpty()) {
            value = System.getenv(env);
        }
        return value == null || value.isEmpty() ? null : value;
    }
}
