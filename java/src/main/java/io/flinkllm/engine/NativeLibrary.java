package io.flinkllm.engine;

import io.flinkllm.LlmException;
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
    /**
     * The operator's schema compile budget; the engine reads {@code FLINKLLM_SCHEMA_BUDGET} from
     * the environment itself. Not a flinkllm option: a job's {@code SET} cannot raise it.
     */
    public static final String SCHEMA_BUDGET_PROPERTY = "flinkllm.schema-budget";

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

    /** The table of platform names this class and build.gradle share (a resource beside this class). */
    static final String PLATFORMS = "platforms.properties";

    /** {@code linux-x86_64}, {@code linux-aarch64}, {@code macos-aarch64}, ... (from {@link #PLATFORMS}). */
    public static String platform() {
        Properties table = new Properties();
        try (InputStream in = NativeLibrary.class.getResourceAsStream(PLATFORMS)) {
            if (in != null) {
                table.load(in);
            }
        } catch (IOException e) {
            // Without the table, the raw os/arch names: the load then fails listing what was tried.
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = table.stringPropertyNames().stream()
                .filter(k -> k.startsWith("os.") && os.startsWith(k.substring(3)))
                .map(table::getProperty)
                .findFirst()
                .orElse(os.replaceAll("\\W", ""));
        return osName + "-" + table.getProperty("arch." + arch, arch);
    }

    private static Loaded loadNow() {
        List<String> tried = new ArrayList<>();
        String resourceDir = "native/" + platform() + "/";
        Properties names = bundledIndex(resourceDir, tried);
        String dir = setting(DIR_PROPERTY, DIR_ENV);
        List<Path> preinstalledOrt = preinstalledOnnxRuntime(names, dir, tried);
        if (preinstalledOrt.isEmpty() && names.isEmpty()) {
            throw notLoaded(ORT, tried);
        }
        Path flinkllm = loadFlinkllm(names, resourceDir, dir, tried);
        Path onnxRuntime = bindOnnxRuntime(preinstalledOrt, names, resourceDir, tried);
        if (onnxRuntime == null) {
            throw new NativeLibraryException("libflinkllm loaded from " + flinkllm + " but could not bind ONNX Runtime; tried:\n  " + String.join("\n  ", tried)
                    + "\nPoint " + ORT_PATH_PROPERTY + " / " + ORT_PATH_ENV + " at the ONNX Runtime library libflinkllm was built against.", null);
        }
        String budget = System.getProperty(SCHEMA_BUDGET_PROPERTY);
        if (budget != null) {
            // A malformed budget fails the load with the engine's message, naming the part.
            Engine.setSchemaBudget(budget);
        }
        LOG.info("flinkllm native libraries loaded: onnxruntime={}, flinkllm={}", onnxRuntime, flinkllm);
        return new Loaded(onnxRuntime, flinkllm);
    }

    /** ONNX Runtime files an operator pre-installed that exist, in order of preference. */
    private static List<Path> preinstalledOnnxRuntime(Properties names, String dir, List<String> tried) {
        String ortFile = names.getProperty(ORT, System.mapLibraryName(ORT));
        String explicit = setting(ORT_PATH_PROPERTY, ORT_PATH_ENV);
        List<Path> found = new ArrayList<>();
        for (Path candidate : new Path[] {explicit == null ? null : Paths.get(explicit), dir == null ? null : Paths.get(dir, ortFile)}) {
            if (candidate == null) {
                continue;
            }
            if (Files.isRegularFile(candidate.toAbsolutePath())) {
                found.add(candidate.toAbsolutePath());
            } else {
                tried.add(candidate.toAbsolutePath() + ": no such file");
            }
        }
        return found;
    }

    /**
     * libflinkllm: a pre-installed copy, else the JAR's, extracted privately. JNI binds its
     * symbols per class loader, so each loader needs a copy of its own.
     */
    private static Path loadFlinkllm(Properties names, String resourceDir, String dir, List<String> tried) {
        String libFile = names.getProperty(FLINKLLM, System.mapLibraryName(FLINKLLM));
        List<Path> candidates = new ArrayList<>();
        String explicit = setting(LIB_PATH_PROPERTY, LIB_PATH_ENV);
        if (explicit != null) {
            candidates.add(Paths.get(explicit));
        }
        if (dir != null) {
            candidates.add(Paths.get(dir, libFile));
        }
        for (Path candidate : candidates) {
            if (tryLoad(candidate, tried)) {
                return candidate;
            }
        }
        if (!names.isEmpty()) {
            try {
                Path extracted = privateCopy(resourceDir + libFile, libFile);
                if (tryLoad(extracted, tried)) {
                    return extracted;
                }
            } catch (IOException e) {
                tried.add("classpath:" + resourceDir + libFile + ": " + e);
            }
        }
        throw notLoaded(FLINKLLM, tried);
    }

    /**
     * ONNX Runtime is not loaded by Java: the engine dlopen()s it. A pre-installed copy first;
     * else the JAR's copy goes to one path per content, so every class loader of the process
     * (and every process of the machine) maps the same library, with one ONNX Runtime
     * environment per process. Returns null (reasons in {@code tried}) if none binds.
     */
    private static Path bindOnnxRuntime(List<Path> preinstalled, Properties names, String resourceDir, List<String> tried) {
        for (Path candidate : preinstalled) {
            if (bind(candidate, tried)) {
                return candidate;
            }
        }
        if (names.isEmpty()) {
            return null;
        }
        String ortFile = names.getProperty(ORT, System.mapLibraryName(ORT));
        Path extracted = null;
        try {
            extracted = SharedExtraction.extract(NativeLibrary.class.getClassLoader(), resourceDir + ortFile, ortFile, names.getProperty(ORT + SHA256_SUFFIX),
                    Paths.get(System.getProperty("java.io.tmpdir")));
        } catch (IOException e) {
            // Not fatal: a private copy works too, it only costs one more ONNX Runtime per class loader.
            LOG.warn("flinkllm: cannot use a shared copy of {} ({}); extracting a private one", ortFile, e.toString());
            tried.add("classpath:" + resourceDir + ortFile + " (shared copy): " + e);
            try {
                extracted = privateCopy(resourceDir + ortFile, ortFile);
            } catch (IOException e2) {
                tried.add("classpath:" + resourceDir + ortFile + ": " + e2);
            }
        }
        return extracted != null && bind(extracted, tried) ? extracted : null;
    }

    /** A copy of a JAR resource in a fresh temporary folder of this process, deleted on exit. */
    private static Path privateCopy(String resource, String fileName) throws IOException {
        Path dir = Files.createTempDirectory("flinkllm-native-");
        dir.toFile().deleteOnExit();
        Path copy = extract(resource, dir.resolve(fileName));
        copy.toFile().deleteOnExit();
        return copy;
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

    private static String setting(String property, String env) {
        String value = System.getProperty(property);
        if (value == null || value.isEmpty()) {
            value = System.getenv(env);
        }
        return value == null || value.isEmpty() ? null : value;
    }
}
