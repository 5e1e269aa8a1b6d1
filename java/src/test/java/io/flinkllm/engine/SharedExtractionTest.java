package io.flinkllm.engine;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.Test;

/** The content-addressed extraction ONNX Runtime is loaded from ({@link SharedExtraction}). */
public class SharedExtractionTest {
    /** A small bundled resource stands in for the library. */
    private static final String RESOURCE = "native/" + NativeLibrary.platform() + "/" + NativeLibrary.INDEX;

    private static byte[] resourceBytes() throws IOException {
        try (InputStream in = loader().getResourceAsStream(RESOURCE)) {
            assertTrue("test resource " + RESOURCE + " on the classpath", in != null);
            return in.readAllBytes();
        }
    }

    private static ClassLoader loader() {
        return SharedExtractionTest.class.getClassLoader();
    }

    @Test
    public void oneVerifiedCopyPerContentReusedAndRepaired() throws Exception {
        Path tmp = Files.createTempDirectory("shared-extraction");
        Path first = SharedExtraction.extract(loader(), RESOURCE, "lib.so", null, tmp);
        byte[] expected = resourceBytes();
        assertArrayEquals(expected, Files.readAllBytes(first));
        String sha256 = SharedExtraction.sha256(first);
        assertEquals(tmp.toAbsolutePath().resolve("flinkllm-" + sha256.substring(0, 16)).resolve("lib.so"), first);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first.getParent())));

        // Reused as is: same file, not rewritten.
        Object inode = Files.readAttributes(first, "unix:ino").get("ino");
        assertEquals(first, SharedExtraction.extract(loader(), RESOURCE, "lib.so", sha256, tmp));
        assertEquals(inode, Files.readAttributes(first, "unix:ino").get("ino"));

        // A truncated or altered file is replaced, never handed out.
        Files.write(first, "not the library".getBytes("UTF-8"));
        assertEquals(first, SharedExtraction.extract(loader(), RESOURCE, "lib.so", sha256, tmp));
        assertOnlyTheLibrary(expected, first);
    }

    @Test
    public void concurrentExtractionsAgree() throws Exception {
        Path tmp = Files.createTempDirectory("shared-extraction");
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<Path>> results = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            results.add(pool.submit((Callable<Path>) () -> SharedExtraction.extract(loader(), RESOURCE, "lib.so", null, tmp)));
        }
        byte[] expected = resourceBytes();
        Path path = results.get(0).get();
        for (Future<Path> f : results) {
            assertEquals(path, f.get());
        }
        pool.shutdown();
        assertOnlyTheLibrary(expected, path);
    }

    /** The extracted file holds the library's bytes and no temporary file is left beside it. */
    private static void assertOnlyTheLibrary(byte[] expected, Path library) throws IOException {
        assertArrayEquals(expected, Files.readAllBytes(library));
        try (Stream<Path> files = Files.list(library.getParent())) {
            assertEquals("no temporary file left behind", 1, files.count());
        }
    }

    @Test
    public void folderWritableByOthersIsRefused() throws Exception {
        Path tmp = Files.createTempDirectory("shared-extraction");
        Path path = SharedExtraction.extract(loader(), RESOURCE, "lib.so", null, tmp);
        Files.setPosixFilePermissions(path.getParent(), PosixFilePermissions.fromString("rwxrwxrwx"));
        try {
            SharedExtraction.extract(loader(), RESOURCE, "lib.so", null, tmp);
            fail("used a folder anybody can write to");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("writable by other users"));
        }
    }

    @Test
    public void contentNotMatchingTheRecordedHashIsRefused() throws Exception {
        Path tmp = Files.createTempDirectory("shared-extraction");
        String wrong = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        try {
            SharedExtraction.extract(loader(), RESOURCE, "lib.so", wrong, tmp);
            fail("extracted a resource whose SHA-256 differs from the recorded one");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(wrong));
        }
        try (Stream<Path> files = Files.list(tmp.resolve("flinkllm-" + wrong.substring(0, 16)))) {
            assertEquals("nothing left behind", 0, files.count());
        }
    }
}
