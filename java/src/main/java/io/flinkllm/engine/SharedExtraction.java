package io.flinkllm.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Set;

/**
 * Extracts a library bundled in the JAR to one path per content,
 * {@code <java.io.tmpdir>/flinkllm-<first 16 hex digits of its SHA-256>/<file name>}, so every
 * class loader of a JVM (a Flink job redeployed with {@code USING JAR}) and every task manager
 * of the machine opens the same file: the dynamic linker then hands back the library already
 * loaded instead of mapping and initialising a new copy.
 *
 * <p>Safe under concurrent JVMs: the file is written under a temporary name in the same folder
 * and renamed into place atomically, so a reader sees either no file or a whole one. The
 * folder must belong to this user and be writable by nobody else, and the file's SHA-256 is
 * checked on every use, so a stale, truncated or planted file is never loaded (it is replaced;
 * if the folder is not ours, the caller falls back to a private copy). The file is kept after
 * the JVM exits: it is content-addressed, and the next task manager reuses it.
 */
final class SharedExtraction {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private SharedExtraction() {}

    /**
     * @param expectedSha256 the resource's SHA-256 as recorded by the build, or null to hash
     *     the resource here
     * @param tmp the folder to create {@code flinkllm-<hash>/} in (normally {@code java.io.tmpdir})
     * @return the path of a verified copy of the resource
     * @throws IOException if no verified shared copy can be had (the caller extracts a private one)
     */
    static Path extract(ClassLoader loader, String resource, String fileName, String expectedSha256, Path tmp) throws IOException {
        String sha256 = expectedSha256 != null && expectedSha256.matches("[0-9a-f]{64}") ? expectedSha256 : sha256(loader, resource);
        tmp = tmp.toAbsolutePath();
        Path dir = tmp.resolve("flinkllm-" + sha256.substring(0, 16));
        createPrivateDirectory(dir);
        checkOwnedByUs(tmp, dir);
        Path target = dir.resolve(fileName);
        if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && sha256(target).equals(sha256)) {
            return target;
        }
        Path part = Files.createTempFile(dir, fileName + ".", ".part");
        try {
            String written;
            try (InputStream in = open(loader, resource); OutputStream out = Files.newOutputStream(part)) {
                DigestInputStream digesting = new DigestInputStream(in, digest());
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = digesting.read(buffer)) > 0; ) {
                    out.write(buffer, 0, n);
                }
                written = hex(digesting.getMessageDigest().digest());
            }
            if (!written.equals(sha256)) {
                throw new IOException(resource + " has SHA-256 " + written + ", the JAR's " + NativeLibrary.INDEX + " says " + sha256);
            }
            try {
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(part);
        }
        return target;
    }

    private static void createPrivateDirectory(Path dir) throws IOException {
        try {
            if (posix(dir.getParent())) {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } else {
                Files.createDirectory(dir);
            }
        } catch (FileAlreadyExistsException e) {
            // Another class loader or JVM made it: checked next, like any existing folder.
        }
    }

    /** The folder must be a real folder, ours, and writable by nobody else. */
    private static void checkOwnedByUs(Path tmp, Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dir + " is not a folder");
        }
        UserPrincipal us;
        Path probe = Files.createTempFile(tmp, "flinkllm-owner-", ".tmp");
        try {
            us = Files.getOwner(probe);
        } finally {
            Files.deleteIfExists(probe);
        }
        UserPrincipal owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(us)) {
            throw new IOException(dir + " belongs to " + owner.getName() + ", not to " + us.getName());
        }
        if (posix(dir)) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
            if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new IOException(dir + " is writable by other users (" + PosixFilePermissions.toString(perms) + ")");
            }
        }
    }

    private static boolean posix(Path path) {
        return path.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    private static InputStream open(ClassLoader loader, String resource) throws IOException {
        InputStream in = loader.getResourceAsStream(resource);
        if (in == null) {
            throw new IOException("listed in " + NativeLibrary.INDEX + " but missing from the JAR");
        }
        return in;
    }

    private static String sha256(ClassLoader loader, String resource) throws IOException {
        try (InputStream in = open(loader, resource)) {
            return sha256(in);
        }
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            return sha256(in);
        }
    }

    private static String sha256(InputStream in) throws IOException {
        MessageDigest digest = digest();
        byte[] buffer = new byte[1 << 16];
        for (int n; (n = in.read(buffer)) > 0; ) {
            digest.update(buffer, 0, n);
        }
        return hex(digest.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            s.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return s.toString();
    }
}
