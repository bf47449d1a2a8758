package io.afasim.utmd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Example task types standing in for the controller's configuration operations. Their external effect is
 * files in a directory; each apply and undo is idempotent (atomic write by rename, delete-if-exists).
 * Arguments are ASCII {@code name:id[:extra]}.
 */
final class ExampleTasks
{
    static final int VOLUME_CREATE = 1;
    static final int VOLUME_SET_MODE = 2;
    static final int VOLUME_DELETE = 3;
    static final int CLUSTER_FAILOVER = 4;

    final Path root;
    final Parameter peerOnline;
    final TaskType volumeCreate;
    final TaskType volumeSetMode;
    final TaskType volumeDelete;
    final TaskType clusterFailover;
    final TaskTypeRegistry registry = new TaskTypeRegistry();

    ExampleTasks(final Path root, final ParameterSet parameters)
    {
        this.root = root;
        this.peerOnline = parameters.defineInt(100, "peer.online", 1);

        // ROLL_BACK: three files; a crash mid-way removes what was made. "fail3" in the args fails step 3.
        volumeCreate = TaskType.builder(VOLUME_CREATE, "volume-create", RecoveryPolicy.ROLL_BACK)
            .conflictKeys(args -> new String[] {"volume:" + field(args, 0)})
            .subjectId(args -> Long.parseLong(field(args, 1)))
            .describeArgs(ExampleTasks::text)
            .step("reserve-id",
                ctx -> write(root.resolve("ids").resolve(field(ctx, 1)), field(ctx, 0)),
                ctx -> delete(root.resolve("ids").resolve(field(ctx, 1))))
            .step("write-metadata",
                ctx -> write(meta(ctx), "id=" + field(ctx, 1)),
                ctx -> delete(meta(ctx)))
            .step("publish-export",
                ctx ->
                {
                    if ("fail3".equals(field(ctx, 2)))
                    {
                        ctx.failureReason("export table full");
                        return StepOutcome.FAILED;
                    }
                    return write(root.resolve("exports").resolve(field(ctx, 0)), "nbd");
                },
                ctx -> delete(root.resolve("exports").resolve(field(ctx, 0))))
            .build();

        // REDO_FORWARD: waits for the peer, quiesces, switches the mode, resumes.
        volumeSetMode = TaskType.builder(VOLUME_SET_MODE, "volume-set-mode", RecoveryPolicy.REDO_FORWARD)
            .conflictKeys(args -> new String[] {"volume:" + field(args, 0)})
            .subjectId(args -> Long.parseLong(field(args, 1)))
            .describeArgs(ExampleTasks::text)
            .step("check-peer", ctx ->
            {
                if (ctx.parameters().getInt(peerOnline) == 0)
                {
                    ctx.waitFor(peerOnline);
                    return StepOutcome.WAIT_PRECONDITION;
                }
                return StepOutcome.DONE;
            })
            .step("quiesce-flush", ctx -> write(io(ctx), "quiesced"))
            .step("write-mode", ctx -> write(mode(ctx), field(ctx, 2)))
            .step("resume-io", ctx -> write(io(ctx), "resumed-" + field(ctx, 2)))
            .build();

        // REDO_FORWARD delete: two idempotent deletes.
        volumeDelete = TaskType.builder(VOLUME_DELETE, "volume-delete", RecoveryPolicy.REDO_FORWARD)
            .conflictKeys(args -> new String[] {"volume:" + field(args, 0)})
            .subjectId(args -> Long.parseLong(field(args, 1)))
            .describeArgs(ExampleTasks::text)
            .step("unpublish-export", ctx -> delete(root.resolve("exports").resolve(field(ctx, 0))))
            .step("remove-metadata", ctx ->
            {
                delete(meta(ctx));
                return delete(root.resolve("ids").resolve(field(ctx, 1)));
            })
            .build();

        clusterFailover = TaskType.builder(CLUSTER_FAILOVER, "cluster-failover", RecoveryPolicy.REDO_FORWARD)
            .conflictKeys(args -> new String[] {TaskManager.CLUSTER_KEY})
            .step("take-ownership", ctx -> write(root.resolve("owner"), "me"))
            .build();

        registry.register(volumeCreate).register(volumeSetMode).register(volumeDelete).register(clusterFailover);
    }

    static byte[] args(final String text)
    {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    static String text(final byte[] args)
    {
        return new String(args, StandardCharsets.US_ASCII);
    }

    static String field(final byte[] args, final int index)
    {
        final String[] fields = text(args).split(":");
        return index < fields.length ? fields[index] : "";
    }

    static String field(final TaskContext ctx, final int index)
    {
        final String[] fields = ctx.argsAsString().split(":");
        return index < fields.length ? fields[index] : "";
    }

    Path meta(final TaskContext ctx)
    {
        return root.resolve("volumes").resolve(field(ctx, 0) + ".meta");
    }

    Path mode(final TaskContext ctx)
    {
        return root.resolve("volumes").resolve(field(ctx, 0) + ".mode");
    }

    Path io(final TaskContext ctx)
    {
        return root.resolve("volumes").resolve(field(ctx, 0) + ".io");
    }

    String read(final String relative)
    {
        final Path path = root.resolve(relative);
        try
        {
            return Files.exists(path) ? Files.readString(path) : null;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    static StepOutcome write(final Path path, final String content)
    {
        try
        {
            Files.createDirectories(path.getParent());
            final Path temporary = path.resolveSibling(path.getFileName() + ".tmp");
            Files.writeString(temporary, content);
            Files.move(temporary, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return StepOutcome.DONE;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    static StepOutcome delete(final Path path)
    {
        try
        {
            Files.deleteIfExists(path);
            return StepOutcome.DONE;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
