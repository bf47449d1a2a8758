package io.afasim.controller;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Configuration tasks through a real controller process and afactl: a SIGKILL in the middle of two tasks
 * (one redone, one rolled back at restart), command gating, and the trace of a write-mode change.
 *
 * <p>Test seam: the controllers run with {@code -Dafasim.test.stepDelayMs=STEP_DELAY_MS}
 * ({@link ControllerContext#TEST_STEP_DELAY_MS_PROP_NAME}): every agent reply a step waits for (a quiesce,
 * storage-core work) reaches its task no earlier than that after the step asked. So a task sits in a known
 * step (WAITING, visible in {@code task list}) for that long: long enough to send a conflicting command or to
 * kill the controller there. The tests wait by polling {@code task list} with deadlines, never by sleeping.
 */
class TaskSystemTest
{
    static final long STEP_DELAY_MS = 1_500;
    static final long WAIT_MS = 60_000;
    static final long POLL_NS = 20_000_000;

    @TempDir
    Path dir;

    private static ControllerContext context(final Path arrayDir)
    {
        return ControllerProcess.testContext(arrayDir).testStepDelayMs(STEP_DELAY_MS);
    }

    @Test
    void sigkillInTheMiddleOfTasksRedoesOneAndRollsBackTheOther() throws Exception
    {
        final ControllerContext ctx = context(dir.resolve("array"));
        try (ControllerProcess controller = new ControllerProcess(ctx).start())
        {
            ok(controller, "volume", "create", "keep", "--size", "16M", "--mode", "1wb");

            final CompletableFuture<ControllerProcess.AfactlResult> setMode =
                background(controller, "volume", "set-mode", "keep", "wt");
            final CompletableFuture<ControllerProcess.AfactlResult> create =
                background(controller, "volume", "create", "fresh", "--size", "8M");
            // set-mode waits in step 2/2 (quiesce-and-switch) after its table write; create waits in 2/4 (create-in-core)
            awaitTasks(controller, out -> state(out, "volume-set-mode", "WAITING", "2/2") &&
                state(out, "volume-create", "WAITING", "2/4"));
            controller.kill();
            assertFalse(setMode.get(WAIT_MS, TimeUnit.MILLISECONDS).exitCode() == 0, "set-mode answered ok before the kill");
            assertFalse(create.get(WAIT_MS, TimeUnit.MILLISECONDS).exitCode() == 0, "create answered ok before the kill");

            controller.start();
            final String tasks = awaitTasks(controller, out ->
                state(out, "volume-set-mode", "COMPLETED", null) && state(out, "volume-create", "ROLLED_BACK", null));
            assertTrue(taskLine(tasks, "volume-set-mode").contains("1x REDO"), tasks);
            assertTrue(taskLine(tasks, "volume-create").contains("1x ROLL_BACK"), tasks);

            // the array is consistent: the redone mode change holds, the rolled-back volume is gone everywhere
            final String volumes = ok(controller, "volume", "list").out();
            assertTrue(volumes.contains("keep") && volumes.contains("wt"), volumes);
            assertFalse(volumes.contains("fresh"), volumes);
            final VolumeTable.Contents table = VolumeTable.read(ctx.shelfDir(), ctx.node());
            assertEquals(1, table.entries().size(), table.toString());
            assertEquals(WriteModeSetting.WT, table.entries().get(0).mode(), table.toString());
            // the rolled-back id stays reserved: the next volume gets a new one
            ok(controller, "volume", "create", "fresh", "--size", "8M");
            assertTrue(controller.logTail().contains("found unfinished in the task journal"), controller.logTail());
        }
    }

    @Test
    void deleteDuringSetModeIsRefusedOnThatVolumeOnlyAndTraceShowsTheModeChange() throws Exception
    {
        try (ControllerProcess controller = new ControllerProcess(context(dir.resolve("array"))).start())
        {
            ok(controller, "volume", "create", "busy", "--size", "16M", "--mode", "1wb");
            ok(controller, "volume", "create", "other", "--size", "16M", "--mode", "1wb");

            final CompletableFuture<ControllerProcess.AfactlResult> setMode =
                background(controller, "volume", "set-mode", "busy", "wt");
            final String running = awaitTasks(controller, out -> state(out, "volume-set-mode", "WAITING", "2/2"));
            final String setModeId = taskLine(running, "volume-set-mode").trim().split("\\s+")[0];

            final ControllerProcess.AfactlResult refused = controller.afactl("volume", "delete", "busy");
            assertEquals(1, refused.exitCode(), refused.out() + refused.err());
            assertEquals(1, refused.err().strip().lines().count(), refused.err());
            assertTrue(refused.err().contains("volume busy is busy with task " + setModeId + " (volume-set-mode"),
                refused.err());

            ok(controller, "volume", "delete", "other"); // another volume: proceeds while set-mode runs

            final ControllerProcess.AfactlResult changed = setMode.get(WAIT_MS, TimeUnit.MILLISECONDS);
            assertEquals(0, changed.exitCode(), changed.err());
            assertTrue(changed.out().contains("busy is now wt"), changed.out());

            final String trace = ok(controller, "trace", "--volume", "busy").out();
            System.out.println("[afasim] afactl trace --volume busy:\n" + trace);
            assertInOrder(trace,
                "volume-set-mode  GATE        accepted",
                "volume-set-mode  STEP_BEGIN  1/2 write-table attempt=1",
                "volume-set-mode  STEP_DONE   1/2 write-table",
                "volume-set-mode  STEP_BEGIN  2/2 quiesce-and-switch attempt=1",
                "volume-set-mode  WAIT        2/2 quiesce-and-switch",
                "volume-delete    GATE        refused",
                "volume-set-mode  RETRIGGER   2/2 quiesce-and-switch",
                "volume-set-mode  STEP_DONE   2/2 quiesce-and-switch",
                "volume-set-mode  STATE       RUNNING -> COMPLETED");

            final String show = ok(controller, "task", "show", setModeId).out();
            assertTrue(show.contains("COMPLETED") && show.contains("quiesce-and-switch"), show);
            assertTrue(ok(controller, "volume", "show", "busy").out().contains("wt"));
        }
    }

    // ---------------------------------------------------------------- helpers

    private static ControllerProcess.AfactlResult ok(final ControllerProcess controller, final String... args)
        throws IOException
    {
        final ControllerProcess.AfactlResult result = controller.afactl(args);
        assertEquals(0, result.exitCode(), String.join(" ", args) + ": " + result.err() + "\n" + controller.logTail());
        return result;
    }

    private static CompletableFuture<ControllerProcess.AfactlResult> background(
        final ControllerProcess controller, final String... args)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return controller.afactl(args);
            }
            catch (final IOException ex)
            {
                return new ControllerProcess.AfactlResult(-1, "", ex.toString());
            }
        });
    }

    /** Polls {@code afactl task list} until {@code done} holds; returns that output. */
    private static String awaitTasks(final ControllerProcess controller, final Predicate<String> done) throws Exception
    {
        final long deadlineMs = System.currentTimeMillis() + WAIT_MS;
        String out = "";
        while (System.currentTimeMillis() < deadlineMs)
        {
            final ControllerProcess.AfactlResult result = controller.afactl("task", "list");
            out = result.out();
            if (result.exitCode() == 0 && done.test(out))
            {
                return out;
            }
            LockSupport.parkNanos(POLL_NS);
        }
        fail("tasks not as expected within " + WAIT_MS + " ms:\n" + out + "\n" + controller.logTail());
        return out;
    }

    /** The last line of {@code task list} output for a task type, or "". */
    private static String taskLine(final String taskList, final String type)
    {
        String found = "";
        for (final String line : taskList.split("\n"))
        {
            final String[] fields = line.trim().split("\\s+");
            if (fields.length > 3 && fields[1].equals(type))
            {
                found = line;
            }
        }
        return found;
    }

    private static boolean state(final String taskList, final String type, final String state, final String step)
    {
        final String[] fields = taskLine(taskList, type).trim().split("\\s+");
        return fields.length > 3 && fields[2].equals(state) && (step == null || fields[3].equals(step));
    }

    /** Each expected fragment appears on a line after the line of the previous one (spaces normalised). */
    private static void assertInOrder(final String text, final String... fragments)
    {
        final List<String> lines = new ArrayList<>();
        for (final String line : text.split("\n"))
        {
            lines.add(line.replaceAll("\\s+", " "));
        }
        int from = 0;
        for (final String fragment : fragments)
        {
            final String wanted = fragment.replaceAll("\\s+", " ");
            int at = -1;
            for (int i = from; i < lines.size(); i++)
            {
                if (lines.get(i).contains(wanted))
                {
                    at = i;
                    break;
                }
            }
            assertTrue(at >= 0, "'" + fragment + "' not found after line " + from + " in:\n" + text);
            from = at + 1;
        }
    }
}
