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
 * Loads libflinkllm once per class loader and binds it to ONNX Runtime.
 *
 * <p>For each library, the first candidate that works wins:
 *
 * <ol>
 *   <li>an explicit file: system property {@code flinkllm.onnxruntime.path} / env
 *       {@code ORT_DYLIB_PATH}, and {@code flinkllm.library.path} / env {@code
 *       FLINKLLM_LIBRARY_PATH};
 *   <li>a folder of pre-installed libraries: {@code flinkllm.native.dir} / env {@code
 *       FLINKLLM_NATIVE_DIR}, holding the same file names as the JAR;
 *   <li>the copy bundled in the JAR under {@code native/<os>-<arch>/}.
 * </ol>
 *
 * The two bundled libraries are extracted differently. libflinkllm goes to a fresh temp
 * folder per class loader: JNI binds native methods per class loader, and a file already
 * loaded by another class loader (a Flink job redeployed with {@code USING JAR}) cannot be
 * loaded again, a new path can. ONNX Runtime is not loaded by Java at all: libflinkllm
 * {@code dlopen}s it from one content-addressed path per machine ({@link SharedExtraction}), so a
 * redeploy reuses the ONNX Runtime already in the process (its code, its environment and the
 * thread that environment starts) instead of mapping a new copy that would never be unloaded.
 * A failure lists every path tried.
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

    /** {@code onnxruntime.sha256} in {@link #INDEX}: the library's SHA-256, written by the build. */
    static final String SHA256_SUFFIX = ".sha256";

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
        String dir = setting(DIR_PROPERTY, DIR_ENV);

        // ONNX Runtime: the files that exist, in order; the engine binds to the first that works.
        String ortFile = names.getProperty(ORT, defaultFileName(ORT));
        List<Path> ortCandidates = new ArrayList<>();
        String explicitOrt = setting(ORT_PATH_PROPERTY, ORT_PATH_ENV);
        for (Path candidate : new Path[] {explicitOrt == null ? null : Paths.get(explicitOrt), dir == null ? null : Paths.get(dir, ortFile)}) {
            if (candidate == null) {
                continue;
            }
            if (Files.isRegularFile(candidate.toAbsolutePath())) {
                ortCandidates.add(candidate.toAbsolutePath());
            } else {
                tried.add(candidate.toAbsolutePath() + ": no such file");
            }
        }
        if (ortCandidates.isEmpty() && names.isEmpty()) {
            throw notLoaded(ORT, tried);
        }

        // libflinkllm: JNI binds its symbols per class loader, so each loader needs its own copy.
        String libFile = names.getProperty(FLINKLLM, defaultFileName(FLINKLLM));
        List<Path> libCandidates = new ArrayList<>();
        String explicitLib = setting(LIB_PATH_PROPERTY, LIB_PATH_ENV);
        if (explicitLib != null) {
            libCandidates.add(Paths.get(explicitLib));
        }
        if (dir != null) {
            libCandidates.add(Paths.get(dir, libFile));
        }
        Path flinkllm = null;
        for (Path candidate : libCandidates) {
            if (tryLoad(candidate, tried)) {
                flinkllm = candidate;
                break;
            }
        }
        Path tempDir = null;
        if (flinkllm == null && !names.isEmpty()) {
            try {
                tempDir = Files.createTempDirectory("flinkllm-native-");
                tempDir.toFile().deleteOnExit();
                Path extracted = extract(resourceDir + libFile, tempDir.resolve(libFile));
                extracted.toFile().deleteOnExit();
                if (tryLoad(extracted, tried)) {
                    flinkllm = extracted;
                }
            } catch (IOException e) {
                tried.add("classpath:" + resourceDir + libFile + ": " + e);
            }
        }
        if (flinkllm == null) {
            throw notLoaded(FLINKLLM, tried);
        }

        // ONNX Runtime is not loaded by Java: the engine dlopen()s it. The JAR's copy goes to
        // one path per content, so every class loader of the process (and every process of
        // the machine) maps the same library, with one ONNX Runtime environment per process.
        Path onnxRuntime = null;
        for (Path candidate : ortCandidates) {
            if (bind(candidate, tried)) {
                onnxRuntime = candidate;
                break;
            }
        }
        if (onnxRuntime == null && !names.isEmpty()) {
            Path extracted = null;
            try {
                extracted = SharedExtraction.extract(NativeLibrary.class.getClassLoader(), resourceDir + ortFile, ortFile, names.getProperty(ORT + SHA256_SUFFIX),
                        Paths.get(System.getProperty("java.io.tmpdir")));
            } catch (IOException e) {
                // Not fatal: a private copy works too, it only costs one more ONNX Runtime per class loader.
                LOG.warn("flinkllm: cannot use a shared copy of {} ({}); extracting a private one", ortFile, e.toString());
                tried.add("classpath:" + resourceDir + ortFile + " (shared copy): " + e);
                try {
                    if (tempDir == null) {
                        tempDir = Files.createTempDirectory("flinkllm-native-");
                        tempDir.toFile().deleteOnExit();
                    }
                    extracted = extract(resourceDir + ortFile, tempDir.resolve(ortFile));
                    extracted.toFile().deleteOnExit();
                } catch (IOException e2) {
                    tried.add("classpath:" + resourceDir + ortFile + ": " + e2);
                }
            }
            if (extracted != null && bind(extracted, tried)) {
                onnxRuntime = extracted;
            }
        }
        if (onnxRuntime == null) {
            throw new NativeLibraryException("libflinkllm loaded from " + flinkllm + " but could not bind ONNX Runtime; tried:\n  " + String.join("\n  ", tried)
                    + "\nPoint " + ORT_PATH_PROPERTY + " / " + ORT_PATH_ENV + " at the ONNX Runtime library libflinkllm was built against.", null);
        }
        LOG.info("flinkllm native libraries loaded: onnxruntime={}, flinkllm={}", onnxRuntime, flinkllm);
        return new Loaded(onnxRuntime, flinkllm);
    }

    /** Binds the engine to the ONNX Runtime library at {@code path}; false (reason in tried) if it cannot. */
    private static boolean bind(Path path, List<String> tried) {
        try {
            Engine.init(path.toString());
            return true;
        } catch (LlmException e) {
            tried.add(path + ": " + e.getMessage());
            return false;
        }
    }

    private static NativeLibraryException notLoaded(String lib, List<String> tried) {
        return new NativeLibraryException("cannot load the " + lib + " library for " + platform() + "; tried:\n  " + String.join("\n  ", tried)
                + "\nUse a flinkllm JAR built for this platform, or point " + (lib.equals(ORT) ? ORT_PATH_PROPERTY + " / " + ORT_PATH_ENV : LIB_PATH_PROPERTY + " / " + LIB_PATH_ENV)
                + " (or " + DIR_PROPERTY + " / " + DIR_ENV + ") at a pre-installed copy.", null);
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
