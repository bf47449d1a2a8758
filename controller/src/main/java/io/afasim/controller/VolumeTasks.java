package io.afasim.controller;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import io.afasim.utmd.RecoveryPolicy;
import io.afasim.utmd.StepOutcome;
import io.afasim.utmd.TaskContext;
import io.afasim.utmd.TaskType;

/**
 * The volume configuration tasks: every operator change of a volume is one of these, run step by step by the
 * cluster agent with its progress journalled on the boot drive. Conflict key of each: {@code volume:<name>}, so
 * two changes of one volume never run together (the second is refused, naming the first) while changes of
 * different volumes do. Subject id (what {@code trace --volume} filters on): the volume id.
 *
 * <pre>
 *  type (id)             policy        steps (apply / undo)
 *  volume-create (1)     ROLL_BACK     1 reserve-id        table next-id past the new id    / -
 *                                      2 create-in-core    format the pool, create + commit / delete the pool
 *                                      3 start-agent       write cache, agent, NBD export   / quiesce, stop agent
 *                                      4 write-table       add the table entry (commit)     / remove the entry
 *  volume-delete (2)     REDO_FORWARD  1 take-offline      quiesce, volume offline          / -
 *                                      2 remove-from-table drop the table entry (commit)    / -
 *                                      3 stop-agent        quiesce, stop agent, drop cache  / -
 *                                      4 delete-in-core    close and delete the pool        / -
 *  volume-offline (3)    REDO_FORWARD  1 write-table       entry says offline               / entry says online
 *  volume-online (4)                   2 quiesce-and-apply quiesce, volume state follows    / -
 *  volume-set-mode (5)   REDO_FORWARD  1 write-table       entry has the new mode           / entry has the old mode
 *                                      2 quiesce-and-switch quiesce (destage first for wt), switch the cache mode / -
 *                                                          (wb: switched by volume-mirror-mode once the peer is up)
 *  volume-move (7)       ROLL_BACK     1 quiesce-and-hold  quiesce, destage clean, keep the   / release the hold,
 *                                                          gates closed (requests park),    restart the journal
 *                                                          stop the pool's journal agent    (unless the peer owns it)
 *                                      2 hand-over         the peer opens the pool, starts the agent and writes its
 *                                                          table with generation + 1 (the commit point) / -
 *                                      3 release           drop the entry here, route the volume to the peer, hand
 *                                                          the parked requests to the forwarder, stop the agent / -
 *  volume-mirror-mode(6) REDO_FORWARD  1 quiesce-and-switch the running mode of a WB volume: 1wb when the peer is
 *                                                          lost (WB writes waiting for it are acknowledged: they
 *                                                          are in local NVMe memory); wb when the peer is up, after
 *                                                          a resync: tell the peer to drop its stale mirror copies,
 *                                                          send it every cached change again, mirror from then on / -
 * </pre>
 *
 * Why these policies and this order. The volume table ({@code shelf/volumes-<node>.conf}) is the durable truth; at
 * start the controller builds its agents from it (and deletes storage-core volumes it does not name). What a
 * step does in memory (an agent's mode, a running agent) is lost in a crash and rebuilt from the table, so
 * a REDO_FORWARD task, which resumes after its last completed step, writes the table first and then makes the
 * running agents follow it: every later step re-derives its work from the table and the agents as they are,
 * so after a restart it finds the agent already built from the new table and has nothing or little to do.
 * <ul>
 * <li>create is ROLL_BACK: until its last step is done the operator got no answer, and what was made (an id,
 * a storage-core volume, an agent, a table entry) is easy to take apart; rolling back leaves no half-made
 * volume. Its commit point is the table entry, written last. The id is reserved in the table first, so that
 * no later create can reuse the id of a volume whose roll back is still to come.</li>
 * <li>delete is REDO_FORWARD: once the entry left the table the volume is gone for the array (a restart
 * would not serve it and deletes its storage), so the task can only go forward. The first step only takes the
 * volume offline, and fails (nothing changed) if its agent cannot be quiesced.</li>
 * <li>offline/online and set-mode are REDO_FORWARD with an undo on their table step: a crash redoes the
 * change (the restarted agent already runs as the table says), while a quiesce that fails (times out under
 * load) rolls the table entry back, so the table never claims a mode the agent does not run. A volume
 * restarted as WT with cached 1WB changes destages them before serving (VolumeAgent), so the table may
 * say WT before the switch.</li>
 * </ul>
 * Steps that need another agent (quiesce on the volume agent, storage-core work on the journal agent) use
 * {@link ClusterAgent#awaitReply}: they never block the cluster agent.
 */
final class VolumeTasks
{
    static final int CREATE_TYPE_ID = 1;
    static final int DELETE_TYPE_ID = 2;
    static final int OFFLINE_TYPE_ID = 3;
    static final int ONLINE_TYPE_ID = 4;
    static final int SET_MODE_TYPE_ID = 5;
    static final int MIRROR_TYPE_ID = 6;
    static final int MOVE_TYPE_ID = 7;

    private final Controller controller;
    private final ClusterAgent cluster;
    final TaskType create;
    final TaskType delete;
    final TaskType offline;
    final TaskType online;
    final TaskType setMode;
    final TaskType mirror;
    final TaskType move;
    /** Ownership answers from the peer (link thread completes them), by volume id. */
    private final java.util.concurrent.ConcurrentHashMap<Integer, ClusterAgent.AgentReply> ownershipReplies =
        new java.util.concurrent.ConcurrentHashMap<>();

    VolumeTasks(final Controller controller, final ClusterAgent cluster)
    {
        this.controller = controller;
        this.cluster = cluster;
        this.create = volumeType(CREATE_TYPE_ID, "volume-create", RecoveryPolicy.ROLL_BACK)
            .step("reserve-id", this::reserveId)
            .step("create-in-core", this::createInCore, this::deleteInCore)
            .step("start-agent", this::startAgent, this::stopAgent)
            .step("write-table", this::addTableEntry, this::removeTableEntry)
            .build();
        this.delete = volumeType(DELETE_TYPE_ID, "volume-delete", RecoveryPolicy.REDO_FORWARD)
            .step("take-offline", this::takeOffline)
            .step("remove-from-table", this::removeTableEntry)
            .step("stop-agent", this::stopAgent)
            .step("delete-in-core", this::deleteInCore)
            .build();
        this.offline = volumeType(OFFLINE_TYPE_ID, "volume-offline", RecoveryPolicy.REDO_FORWARD)
            .step("write-table", ctx -> writeEntry(ctx, "online", false), ctx -> writeEntry(ctx, "old", false))
            .step("quiesce-and-apply", this::applyOnline)
            .build();
        this.online = volumeType(ONLINE_TYPE_ID, "volume-online", RecoveryPolicy.REDO_FORWARD)
            .step("write-table", ctx -> writeEntry(ctx, "online", false), ctx -> writeEntry(ctx, "old", false))
            .step("quiesce-and-apply", this::applyOnline)
            .build();
        this.setMode = volumeType(SET_MODE_TYPE_ID, "volume-set-mode", RecoveryPolicy.REDO_FORWARD)
            .step("write-table", ctx -> writeEntry(ctx, "mode", true), ctx -> writeEntry(ctx, "old", true))
            .step("quiesce-and-switch", this::applyMode)
            .build();
        this.mirror = volumeType(MIRROR_TYPE_ID, "volume-mirror-mode", RecoveryPolicy.REDO_FORWARD)
            .step("quiesce-and-switch", this::applyMirrorMode)
            .build();
        this.move = volumeType(MOVE_TYPE_ID, "volume-move", RecoveryPolicy.ROLL_BACK)
            .step("quiesce-and-hold", this::quiesceAndHold, this::undoHold)
            .step("hand-over", this::handOver)
            .step("release", this::releaseMoved)
            .build();
        for (final TaskType type : new TaskType[] {create, delete, offline, online, setMode, mirror, move})
        {
            cluster.register(type);
        }
    }

    private static TaskType.Builder volumeType(final int typeId, final String name, final RecoveryPolicy policy)
    {
        return TaskType.builder(typeId, name, policy)
            .conflictKeys(args -> new String[] {conflictKey(arg(args, "name"))})
            .subjectId(args -> Long.parseLong(arg(args, "id")))
            .describeArgs(VolumeTasks::describe);
    }

    static String conflictKey(final String name)
    {
        return "volume:" + name;
    }

    // ---------------------------------------------------------------- arguments

    /** Arguments: {@code key=value} lines, UTF-8 (volume names hold no newline). */
    static byte[] args(final String... keysAndValues)
    {
        final StringBuilder text = new StringBuilder();
        for (int i = 0; i < keysAndValues.length; i += 2)
        {
            text.append(keysAndValues[i]).append('=').append(keysAndValues[i + 1]).append('\n');
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Map<String, String> parse(final byte[] args)
    {
        final Map<String, String> values = new LinkedHashMap<>();
        for (final String line : new String(args, StandardCharsets.UTF_8).split("\n"))
        {
            final int equals = line.indexOf('=');
            if (equals > 0)
            {
                values.put(line.substring(0, equals), line.substring(equals + 1));
            }
        }
        return values;
    }

    static String arg(final byte[] args, final String key)
    {
        final String value = parse(args).get(key);
        if (value == null)
        {
            throw new IllegalArgumentException("no " + key + " in the task arguments");
        }
        return value;
    }

    private static String arg(final TaskContext ctx, final String key)
    {
        final byte[] bytes = new byte[ctx.argsLength()];
        ctx.args().getBytes(0, bytes);
        return arg(bytes, key);
    }

    private static String describe(final byte[] args)
    {
        final StringBuilder text = new StringBuilder();
        for (final Map.Entry<String, String> entry : parse(args).entrySet())
        {
            text.append(text.length() == 0 ? "" : " ").append(entry.getKey()).append('=').append(entry.getValue());
        }
        return text.toString();
    }

    /** The volume name in a {@link #describe} text, or null. */
    static String describedName(final String description)
    {
        for (final String field : description.split(" "))
        {
            if (field.startsWith("name="))
            {
                return field.substring("name=".length());
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- commands (cluster agent thread)

    ClusterAgent.Prepared prepareCreate(final String name, final long sizeBytes, final WriteModeSetting mode)
    {
        final String key = conflictKey(name);
        final byte[] noId = args("name", name, "id", "0");
        if (controller.agentByName(name) != null || controller.tableHas(name))
        {
            return new ClusterAgent.Prepared(create, noId, key, "refused: volume " + name + " exists", null);
        }
        if (mode == WriteModeSetting.WB && controller.context().controllers() == 1)
        {
            return new ClusterAgent.Prepared(create, noId, key, wbRefusal(), null);
        }
        final int volumeId = controller.allocateVolumeId();
        return new ClusterAgent.Prepared(create, args("name", name, "id", Integer.toString(volumeId),
            "sizeBytes", Long.toString(sizeBytes), "mode", mode.label()), key, null, "created " + name);
    }

    ClusterAgent.Prepared prepareDelete(final String name)
    {
        final VolumeAgent agent = controller.agentByName(name);
        if (agent == null)
        {
            return noVolume(delete, name);
        }
        return new ClusterAgent.Prepared(delete, args("name", name, "id", Integer.toString(agent.state().volumeId())),
            conflictKey(name), null, "deleted " + name);
    }

    ClusterAgent.Prepared prepareOnline(final String name, final boolean makeOnline)
    {
        final TaskType type = makeOnline ? online : offline;
        final VolumeAgent agent = controller.agentByName(name);
        if (agent == null)
        {
            return noVolume(type, name);
        }
        return new ClusterAgent.Prepared(type, args("name", name, "id", Integer.toString(agent.state().volumeId()),
            "online", Boolean.toString(makeOnline), "old", Boolean.toString(agent.state().online())),
            conflictKey(name), null, name + (makeOnline ? " is online" : " is offline"));
    }

    ClusterAgent.Prepared prepareSetMode(final String name, final WriteModeSetting mode)
    {
        final VolumeAgent agent = controller.agentByName(name);
        if (agent == null)
        {
            return noVolume(setMode, name);
        }
        final byte[] args = args("name", name, "id", Integer.toString(agent.state().volumeId()),
            "mode", mode.label(), "old", agent.state().mode().label());
        if (mode == WriteModeSetting.WB && controller.context().controllers() == 1)
        {
            return new ClusterAgent.Prepared(setMode, args, conflictKey(name), wbRefusal(), null);
        }
        return new ClusterAgent.Prepared(setMode, args, conflictKey(name), null, name + " is now " + mode.label());
    }

    private static ClusterAgent.Prepared noVolume(final TaskType type, final String name)
    {
        return new ClusterAgent.Prepared(type, args("name", name, "id", "0"), conflictKey(name),
            "refused: no volume " + name, null);
    }

    private static String wbRefusal()
    {
        return "refused: mode wb needs the peer controller; this controller runs alone (afasim.controllers=1): use wt or 1wb";
    }

    ClusterAgent.Prepared prepareMove(final String name, final String to)
    {
        final String here = controller.context().node();
        final VolumeAgent agent = controller.agentByName(name);
        final byte[] noId = args("name", name, "id", "0");
        if (!"A".equals(to) && !"B".equals(to))
        {
            return new ClusterAgent.Prepared(move, noId, conflictKey(name), "refused: --to must be A or B", null);
        }
        if (agent == null)
        {
            final boolean peerOwns = controller.peerVolumes().stream().anyMatch(e -> e.name().equals(name));
            return new ClusterAgent.Prepared(move, noId, conflictKey(name), peerOwns ?
                (to.equals(here) ? "refused: volume " + name + " is owned by controller " +
                    controller.context().peerNode() + ": run the move there (afactl --node " +
                    controller.context().peerNode() + ")" :
                    "refused: volume " + name + " is already owned by controller " + to) :
                "refused: no volume " + name, null);
        }
        final byte[] moveArgs = args("name", name, "id", Integer.toString(agent.state().volumeId()), "to", to);
        if (to.equals(here))
        {
            return new ClusterAgent.Prepared(move, moveArgs, conflictKey(name),
                "refused: volume " + name + " is already owned by controller " + here, null);
        }
        if (!controller.link().isUp())
        {
            return new ClusterAgent.Prepared(move, moveArgs, conflictKey(name),
                "refused: controller " + to + " is not connected (link down)", null);
        }
        return new ClusterAgent.Prepared(move, moveArgs, conflictKey(name), null, name + " is now owned by " + to);
    }

    private StepOutcome quiesceAndHold(final TaskContext ctx)
    {
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        if (agent == null)
        {
            ctx.failureReason("volume " + arg(ctx, "name") + " has no agent here");
            return StepOutcome.FAILED;
        }
        final ClusterAgent.AgentReply reply = cluster.awaitReply(ctx, r -> quiesce(r, agent,
            "move to " + arg(ctx, "to"), true, true, () ->
            {
                agent.applyRunningMode(WriteModeSetting.ONE_WAY_WB, 0); // clean cache: nothing left to mirror
                agent.holdForMove();
            }));
        if (reply == null)
        {
            return StepOutcome.WAIT_PRECONDITION;
        }
        if (reply.failure() != null)
        {
            ctx.failureReason(reply.failure());
            return StepOutcome.FAILED;
        }
        controller.pool(agent.state().volumeId()).stopJournal(); // idle from here: the peer may open it
        return StepOutcome.DONE;
    }

    private StepOutcome undoHold(final TaskContext ctx)
    {
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        final VolumeTable.Entry mine = controller.tableEntry(volumeId);
        final VolumeTable.Entry theirs = controller.peerEntry(volumeId);
        if (mine == null || theirs != null && theirs.generation() > mine.generation())
        {
            return StepOutcome.DONE; // the peer owns it: nothing to give back here
        }
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        final Pool pool = controller.pool(volumeId);
        if (agent == null || pool == null)
        {
            return StepOutcome.DONE; // restarted: the agent was rebuilt from the table
        }
        pool.start(controller.idleStrategyForPools(), controller.errorHandler());
        return outcome(ctx, cluster.awaitReply(ctx, r ->
        {
            if (!agent.execute(() ->
            {
                agent.releaseHold();
                r.complete(null, null);
            }))
            {
                r.complete("volume " + agent.state().name() + ": its agent is busy, try again", null);
            }
        }));
    }

    private StepOutcome handOver(final TaskContext ctx)
    {
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        final VolumeTable.Entry mine = controller.tableEntry(volumeId);
        if (mine == null)
        {
            ctx.failureReason("volume " + arg(ctx, "name") + " is not in this controller's table");
            return StepOutcome.FAILED;
        }
        final VolumeTable.Entry theirs = controller.peerEntry(volumeId);
        if (theirs != null && theirs.generation() > mine.generation() && !cluster.hasPendingReply(ctx))
        {
            return StepOutcome.DONE; // accepted before a crash or a lost answer
        }
        final ClusterAgent.AgentReply reply = cluster.awaitReply(ctx, r ->
        {
            ownershipReplies.put(volumeId, r);
            final String text = mine.name() + " " + mine.sizeBytes() + " " + mine.mode().label() + " " +
                mine.online() + " " + (mine.generation() + 1);
            if (controller.link().ownership(volumeId, controller.context().nodeId(), 1 - controller.context().nodeId(),
                PeerLink.OWNERSHIP_REQUEST, ctx.taskId(), text) < 0)
            {
                r.complete("the link to controller " + arg(ctx, "to") + " refused the request (down or full)", null);
            }
        });
        if (reply == null)
        {
            return StepOutcome.WAIT_PRECONDITION;
        }
        ownershipReplies.remove(volumeId);
        final VolumeTable.Entry after = controller.peerEntry(volumeId);
        if (after != null && after.generation() > mine.generation())
        {
            return StepOutcome.DONE; // the peer's table is the commit point, whatever the answer said
        }
        ctx.failureReason(reply.failure() != null ? reply.failure() : "controller " + arg(ctx, "to") +
            " did not take the volume");
        return StepOutcome.FAILED;
    }

    /** Link thread: the peer's answer to an ownership request. */
    void onOwnershipAnswer(final int volumeId, final boolean accepted, final String reason)
    {
        final ClusterAgent.AgentReply reply = ownershipReplies.get(volumeId);
        if (reply != null)
        {
            reply.complete(accepted ? null : "controller refused: " + reason, null);
        }
    }

    /** Cluster agent of the new owner: a REQUEST from the peer. */
    void onOwnershipRequest(final int volumeId, final long taskId, final String text)
    {
        final String[] fields = text.split(" ");
        final PeerLink link = controller.link();
        final int me = controller.context().nodeId();
        if (fields.length != 5)
        {
            link.ownership(volumeId, me, 1 - me, PeerLink.OWNERSHIP_REFUSED, taskId, "malformed request: " + text);
            return;
        }
        final VolumeTable.Entry entry = new VolumeTable.Entry(volumeId, fields[0], Long.parseLong(fields[1]),
            WriteModeSetting.parse(fields[2]), Boolean.parseBoolean(fields[3]), Long.parseLong(fields[4]));
        controller.adopt(entry, failure ->
        {
            System.out.println("[afasim] controller " + controller.context().node() + ": volume " + entry.name() +
                (failure == null ? " taken over from controller " + controller.context().peerNode() +
                " (generation " + entry.generation() + ")" : " not taken over: " + failure));
            link.ownership(volumeId, me, 1 - me,
                failure == null ? PeerLink.OWNERSHIP_ACCEPTED : PeerLink.OWNERSHIP_REFUSED, taskId,
                failure == null ? "ok" : failure);
        });
    }

    private StepOutcome releaseMoved(final TaskContext ctx)
    {
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        final VolumeAgent registered = controller.agentByName(arg(ctx, "name"));
        final VolumeAgent agent = registered != null ? registered : controller.movingOut(arg(ctx, "name"));
        if (controller.tableEntry(volumeId) != null)
        {
            controller.removeTableEntry(volumeId);
        }
        if (agent == null)
        {
            return StepOutcome.DONE; // restarted after the table dropped it
        }
        if (registered != null)
        {
            controller.unregister(agent);
        }
        final ClusterAgent.AgentReply reply = cluster.awaitReply(ctx, r ->
        {
            if (!agent.execute(() ->
            {
                agent.handOffParked(controller.forwarder()::submit);
                r.complete(null, null);
            }))
            {
                r.complete("volume " + agent.state().name() + ": its agent is busy", null);
            }
        });
        if (reply == null)
        {
            return StepOutcome.WAIT_PRECONDITION;
        }
        controller.stopMovedAgent(agent); // REDO or not: the volume is the peer's now
        return StepOutcome.DONE;
    }

    /** Membership's mirror duty (cluster agent thread): the running mode of a WB volume follows the peer. */
    ClusterAgent.Prepared prepareMirror(final VolumeAgent agent, final String target, final long epoch)
    {
        final String name = agent.state().name();
        return new ClusterAgent.Prepared(mirror, args("name", name, "id", Integer.toString(agent.state().volumeId()),
            "target", target, "epoch", Long.toString(epoch)), conflictKey(name), null, name + " runs " + target);
    }

    // ---------------------------------------------------------------- steps (cluster agent thread)

    private StepOutcome reserveId(final TaskContext ctx)
    {
        controller.reserveVolumeId(Integer.parseInt(arg(ctx, "id")));
        return StepOutcome.DONE;
    }

    private StepOutcome createInCore(final TaskContext ctx)
    {
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        final long sizeBytes = Long.parseLong(arg(ctx, "sizeBytes"));
        return outcome(ctx, cluster.awaitReply(ctx, r -> onPoolWorker(r, () -> controller.createPool(volumeId, sizeBytes))));
    }

    private StepOutcome deleteInCore(final TaskContext ctx)
    {
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        controller.nvme().discardRecovered(volumeId);
        return outcome(ctx, cluster.awaitReply(ctx, r -> onPoolWorker(r, () -> controller.deletePool(volumeId))));
    }

    private StepOutcome startAgent(final TaskContext ctx)
    {
        final String name = arg(ctx, "name");
        if (controller.agentByName(name) != null)
        {
            return StepOutcome.DONE;
        }
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        final Pool pool = controller.pool(volumeId);
        if (pool == null)
        {
            ctx.failureReason("volume id " + volumeId + " has no pool");
            return StepOutcome.FAILED;
        }
        controller.startNewAgent(new VolumeState(volumeId, name, Long.parseLong(arg(ctx, "sizeBytes")),
            WriteModeSetting.parse(arg(ctx, "mode")), true), pool);
        return StepOutcome.DONE;
    }

    private StepOutcome stopAgent(final TaskContext ctx)
    {
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        if (agent == null)
        {
            return StepOutcome.DONE;
        }
        final ClusterAgent.AgentReply reply = cluster.awaitReply(ctx,
            r -> quiesce(r, agent, ctx.isUndo() ? "create roll back" : "delete", false, () -> agent.state().online(false)));
        if (reply == null)
        {
            return StepOutcome.WAIT_PRECONDITION;
        }
        if (reply.failure() != null)
        {
            // the volume is going away whatever its agent says: stop it anyway (its in-flight I/O gets no answer)
            System.err.println("[afasim] volume " + agent.state().name() + ": stopping its agent unquiesced: " +
                reply.failure());
        }
        controller.stopAgent(agent);
        return StepOutcome.DONE;
    }

    private StepOutcome addTableEntry(final TaskContext ctx)
    {
        controller.putTableEntry(new VolumeTable.Entry(Integer.parseInt(arg(ctx, "id")), arg(ctx, "name"),
            Long.parseLong(arg(ctx, "sizeBytes")), WriteModeSetting.parse(arg(ctx, "mode")), true));
        return StepOutcome.DONE;
    }

    private StepOutcome removeTableEntry(final TaskContext ctx)
    {
        controller.removeTableEntry(Integer.parseInt(arg(ctx, "id")));
        return StepOutcome.DONE;
    }

    private StepOutcome takeOffline(final TaskContext ctx)
    {
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        if (agent == null)
        {
            return StepOutcome.DONE; // restarted after the entry left the table: nothing serves it
        }
        return outcome(ctx, cluster.awaitReply(ctx,
            r -> quiesce(r, agent, "delete", false, () -> agent.state().online(false))));
    }

    /** Table entry of the task's volume with its mode ({@code modeField}) or online state from argument {@code key}. */
    private StepOutcome writeEntry(final TaskContext ctx, final String key, final boolean modeField)
    {
        final int volumeId = Integer.parseInt(arg(ctx, "id"));
        final VolumeTable.Entry entry = controller.tableEntry(volumeId);
        if (entry == null)
        {
            ctx.failureReason("volume " + arg(ctx, "name") + " is not in the volume table");
            return StepOutcome.FAILED;
        }
        final String value = arg(ctx, key);
        controller.putTableEntry(modeField ?
            entry.withMode(WriteModeSetting.parse(value)) : entry.withOnline(Boolean.parseBoolean(value)));
        return StepOutcome.DONE;
    }

    private StepOutcome applyOnline(final TaskContext ctx)
    {
        final boolean target = Boolean.parseBoolean(arg(ctx, "online"));
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        if (agent == null)
        {
            ctx.failureReason("volume " + arg(ctx, "name") + " has no agent");
            return StepOutcome.FAILED;
        }
        if (agent.state().online() == target && !cluster.hasPendingReply(ctx))
        {
            return StepOutcome.DONE;
        }
        return outcome(ctx, cluster.awaitReply(ctx,
            r -> quiesce(r, agent, target ? "online" : "offline", false, () -> agent.state().online(target))));
    }

    private StepOutcome applyMode(final TaskContext ctx)
    {
        final WriteModeSetting mode = WriteModeSetting.parse(arg(ctx, "mode"));
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        if (agent == null)
        {
            ctx.failureReason("volume " + arg(ctx, "name") + " has no agent");
            return StepOutcome.FAILED;
        }
        agent.state().configuredMode(mode);
        if (mode == WriteModeSetting.WB)
        {
            // WB runs only with a synchronised mirror: switched now when the peer is up, else by the mirror duty later
            if (agent.state().mode() == WriteModeSetting.WB && !cluster.hasPendingReply(ctx))
            {
                return StepOutcome.DONE;
            }
            if (!controller.link().isUp() && !cluster.hasPendingReply(ctx))
            {
                return outcome(ctx, cluster.awaitReply(ctx, r -> quiesce(r, agent, "set-mode wb (peer down: 1wb)", false,
                    () -> agent.applyRunningMode(WriteModeSetting.ONE_WAY_WB, 0))));
            }
            return switchToWb(ctx, agent, controller.link().epoch());
        }
        if (agent.state().mode() == mode && !cluster.hasPendingReply(ctx))
        {
            return StepOutcome.DONE; // e.g. restarted from a table that has the new mode already
        }
        // entering WT needs every cached change destaged first (WT acknowledges only what is on the shelf)
        return outcome(ctx, cluster.awaitReply(ctx, r -> quiesce(r, agent, "set-mode " + mode.label(),
            mode == WriteModeSetting.WT, true, () -> agent.applyRunningMode(mode, 0))));
    }

    private StepOutcome applyMirrorMode(final TaskContext ctx)
    {
        final VolumeAgent agent = controller.agentByName(arg(ctx, "name"));
        if (agent == null)
        {
            return StepOutcome.DONE; // deleted meanwhile
        }
        if ("1wb".equals(arg(ctx, "target")))
        {
            return outcome(ctx, cluster.awaitReply(ctx, r -> quiesce(r, agent, "peer lost: 1wb", false, true,
                () -> agent.applyRunningMode(WriteModeSetting.ONE_WAY_WB, 0))));
        }
        return switchToWb(ctx, agent, Long.parseLong(arg(ctx, "epoch")));
    }

    /**
     * The mirror resync ({@link VolumeAgent#resyncMirror}): under quiesce the peer is told to drop whatever mirror
     * copies of the volume it still holds (from an earlier epoch), every change cached here is sent to it again,
     * and from then on every change is mirrored in {@code epoch}. Messages on the link are ordered, so the peer
     * drops the stale copies before the first replayed one arrives. Nothing is destaged for it.
     */
    private StepOutcome switchToWb(final TaskContext ctx, final VolumeAgent agent, final long epoch)
    {
        final PeerLink link = controller.link();
        if (!cluster.hasPendingReply(ctx) && (!link.isUp() || link.epoch() != epoch))
        {
            ctx.failureReason("the peer is not connected in link epoch " + epoch);
            return StepOutcome.FAILED;
        }
        final long timeoutNs = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(controller.context().quiesceTimeoutMs());
        return outcome(ctx, cluster.awaitReply(ctx, r -> quiesce(r, agent, "mirror resync: wb", false, true, () ->
        {
            if (!link.isUp() || link.epoch() != epoch)
            {
                throw new IllegalStateException("the link left epoch " + epoch + " during the resync");
            }
            agent.resyncMirror(epoch, timeoutNs);
        })));
    }

    // ---------------------------------------------------------------- asking other agents

    private static StepOutcome outcome(final TaskContext ctx, final ClusterAgent.AgentReply reply)
    {
        if (reply == null)
        {
            return StepOutcome.WAIT_PRECONDITION;
        }
        if (reply.failure() != null)
        {
            ctx.failureReason(reply.failure());
            return StepOutcome.FAILED;
        }
        return StepOutcome.DONE;
    }

    /** Pool formatting, opening and deletion do file I/O and fdatasyncs: on the pool worker, never on this agent. */
    private void onPoolWorker(final ClusterAgent.AgentReply reply, final Runnable work)
    {
        controller.poolWorker().execute(() ->
        {
            try
            {
                work.run();
                reply.complete(null, null);
            }
            catch (final RuntimeException ex)
            {
                reply.complete("failed: " + ex.getMessage(), null);
            }
        });
    }

    private void quiesce(
        final ClusterAgent.AgentReply reply,
        final VolumeAgent agent,
        final String reason,
        final boolean requiresCleanCache,
        final Runnable change)
    {
        quiesce(reply, agent, reason, requiresCleanCache, false, change);
    }

    private void quiesce(
        final ClusterAgent.AgentReply reply,
        final VolumeAgent agent,
        final String reason,
        final boolean requiresCleanCache,
        final boolean releasesMirrorWaits,
        final Runnable change)
    {
        final long timeoutNs = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(controller.context().quiesceTimeoutMs());
        if (!agent.execute(() -> agent.quiesce(reason, timeoutNs, requiresCleanCache, releasesMirrorWaits, change,
            outcome -> reply.complete(outcome == null ? null : "volume " + agent.state().name() + ": " + outcome, null))))
        {
            reply.complete("volume " + agent.state().name() + ": its agent is busy, try again", null);
        }
    }
}
