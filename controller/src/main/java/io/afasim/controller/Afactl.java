package io.afasim.controller;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * afactl: the operator CLI of a running controller. Every command is one admin request ({@link AdminProtocol}) sent
 * with {@link AdminClient}; the response is printed as tables, or as one JSON document with {@code --json}.
 *
 * <p>Exit codes: {@value #EXIT_OK} done; {@value #EXIT_REFUSED} the controller refused the operation or could not be
 * reached (one line on stderr: {@code afactl: volume vol1: refused: REASON}); {@value #EXIT_USAGE} a wrong argument
 * (one line on stderr). Usage text only with {@code --help}.
 */
@Command(
    name = "afactl",
    mixinStandardHelpOptions = true,
    version = "afactl (afasim admin protocol " + AdminProtocol.VERSION + ")",
    description = "Operate a running afasim controller through its admin endpoint.",
    footer = {
        "",
        "Endpoint: --endpoint, else $AFASIM_ADMIN, else the first line of",
        "$AFASIM_HOME/run/admin (written by 'afasim up'), else 127.0.0.1:7391.",
        "Exit codes: 0 done, 1 refused or unreachable, 2 wrong arguments."},
    subcommands = {
        Afactl.Status.class,
        Afactl.Volume.class,
        Afactl.Stats.class,
        Afactl.Task.class,
        Afactl.Trace.class,
        Afactl.Fault.class})
public final class Afactl implements Callable<Integer>
{
    public static final int EXIT_OK = 0;
    public static final int EXIT_REFUSED = 1;
    public static final int EXIT_USAGE = 2;

    @Option(names = "--endpoint", paramLabel = "HOST:PORT", scope = ScopeType.INHERIT,
        description = "Admin endpoint of the controller (default: see below).")
    String endpointOption;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print one JSON document instead of tables.")
    boolean json;

    @Option(names = "--timeout-ms", paramLabel = "MS", scope = ScopeType.INHERIT, hidden = true,
        description = "Read timeout in milliseconds.")
    int timeoutMs = AdminClient.READ_TIMEOUT_MS_DEFAULT;

    @Spec
    CommandSpec spec;

    private PrintWriter out;
    private PrintWriter err;
    private Map<String, String> env;

    public static void main(final String[] args)
    {
        final PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        final PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, StandardCharsets.UTF_8));
        final int exitCode = run(args, out, err, System.getenv());
        out.flush();
        err.flush();
        System.exit(exitCode);
    }

    /** Runs afactl in-process with the process environment; returns the exit code. */
    public static int run(final String[] args, final PrintWriter out, final PrintWriter err)
    {
        return run(args, out, err, System.getenv());
    }

    /** Runs afactl in-process; {@code env} stands for the environment ({@code AFASIM_ADMIN}, {@code AFASIM_HOME}). */
    public static int run(final String[] args, final PrintWriter out, final PrintWriter err,
        final Map<String, String> env)
    {
        final Afactl afactl = new Afactl();
        afactl.out = out;
        afactl.err = err;
        afactl.env = env;
        final CommandLine commandLine = new CommandLine(afactl);
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setParameterExceptionHandler((ex, badArgs) ->
        {
            err.println("afactl: " + commandPath(ex.getCommandLine()) + oneLine(ex.getMessage()) +
                " (see " + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help)");
            err.flush();
            return EXIT_USAGE;
        });
        commandLine.setExecutionExceptionHandler((ex, cl, parseResult) ->
        {
            err.println("afactl: " + commandPath(cl) + "internal error: " + oneLine(String.valueOf(ex)));
            err.flush();
            return EXIT_REFUSED;
        });
        final int exitCode = commandLine.execute(args);
        out.flush();
        err.flush();
        return exitCode;
    }

    /** {@code afactl} alone: a usage error naming the commands. */
    @Override
    public Integer call()
    {
        throw new ParameterException(spec.commandLine(), "missing command (status, volume, stats, task, trace)");
    }

    /** Sends one request and prints the response; {@code subject} names the object in error lines. */
    int send(final String subject, final AdminRequest request)
    {
        final AdminEndpoint endpoint;
        try
        {
            endpoint = AdminEndpoint.resolve(endpointOption, env);
        }
        catch (final IllegalArgumentException ex)
        {
            err.println("afactl: " + oneLine(ex.getMessage()));
            return EXIT_USAGE;
        }
        final AdminResponse response;
        try (AdminClient client = AdminClient.connect(endpoint, AdminClient.CONNECT_TIMEOUT_MS_DEFAULT,
            Math.max(1, timeoutMs)))
        {
            response = client.send(request);
        }
        catch (final IOException ex)
        {
            err.println("afactl: " + subject + ": " + oneLine(ex.getMessage()));
            return EXIT_REFUSED;
        }
        if (json)
        {
            AfactlOutput.printJson(response, out);
        }
        else if (response.isOk())
        {
            AfactlOutput.printTables(response, out);
        }
        if (!response.isOk())
        {
            final String reason = oneLine(response.message());
            // the controller's messages usually say "refused: ..." themselves; say it once
            err.println("afactl: " + subject + ": " + (reason.startsWith("refused") ? reason : "refused: " + reason));
            return EXIT_REFUSED;
        }
        return EXIT_OK;
    }

    static String oneLine(final String text)
    {
        final String trimmed = text == null ? "" : text.strip();
        final int newline = trimmed.indexOf('\n');
        return (newline < 0 ? trimmed : trimmed.substring(0, newline)).replace('\r', ' ').replace('\t', ' ');
    }

    private static String commandPath(final CommandLine commandLine)
    {
        final String name = commandLine.getCommandSpec().qualifiedName(" ");
        return name.equals("afactl") ? "" : name.substring("afactl ".length()) + ": ";
    }

    private static Afactl root(final CommandSpec spec)
    {
        return (Afactl)spec.root().userObject();
    }

    // ------------------------------------------------------------------------------------------------- converters

    /** Sizes with K/M/G/T/P suffixes (powers of 1024), a positive multiple of 4096 bytes. */
    static final class SizeConverter implements ITypeConverter<Long>
    {
        @Override
        public Long convert(final String value)
        {
            try
            {
                return AfactlSizes.parseBytes(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage());
            }
        }
    }

    /** A value that must be one of {@code choices}; a wrong one is named with {@code what} and the choices. */
    abstract static class ChoiceConverter implements ITypeConverter<String>
    {
        private final List<String> choices;
        private final String what;

        ChoiceConverter(final List<String> choices, final String what)
        {
            this.choices = choices;
            this.what = what;
        }

        @Override
        public String convert(final String value)
        {
            if (!choices.contains(value))
            {
                throw new TypeConversionException(
                    "'" + value + "' is not " + what + " (" + String.join(", ", choices) + ")");
            }
            return value;
        }
    }

    /** Write modes: wt, 1wb, wb. */
    static final class ModeConverter extends ChoiceConverter
    {
        ModeConverter()
        {
            super(AdminProtocol.MODES, "a write mode");
        }
    }

    /** Controller nodes: A, B. */
    static final class NodeConverter extends ChoiceConverter
    {
        NodeConverter()
        {
            super(AdminProtocol.NODES, "a controller");
        }
    }

    /** Link faults: partition, deaf, heal. */
    static final class LinkFaultConverter extends ChoiceConverter
    {
        LinkFaultConverter()
        {
            super(AdminProtocol.LINK_FAULTS, "a link fault");
        }
    }

    /** Names and ids: non-empty, at most {@link AdminProtocol#NAME_LENGTH_MAX} characters. */
    static final class NameConverter implements ITypeConverter<String>
    {
        @Override
        public String convert(final String value)
        {
            if (value.isEmpty() || value.length() > AdminProtocol.NAME_LENGTH_MAX)
            {
                throw new TypeConversionException("a name has 1 to " + AdminProtocol.NAME_LENGTH_MAX +
                    " characters");
            }
            return value;
        }
    }

    // --------------------------------------------------------------------------------------------------- commands

    @Command(name = "status", mixinStandardHelpOptions = true,
        description = "Controller status: nodes, volumes, pool and cache summary.")
    static final class Status implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call()
        {
            return root(spec).send("status", AdminRequest.of(AdminCommand.STATUS));
        }
    }

    /** A command that only groups subcommands: run alone, it names them. */
    abstract static class CommandGroup implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call()
        {
            throw new ParameterException(spec.commandLine(),
                "missing subcommand (" + String.join(", ", spec.subcommands().keySet()) + ")");
        }
    }

    @Command(name = "volume", mixinStandardHelpOptions = true, description = "Create, inspect and change volumes.",
        subcommands = {
            VolumeCreate.class, VolumeList.class, VolumeShow.class, VolumeDelete.class, VolumeSetMode.class,
            VolumeOffline.class, VolumeOnline.class, VolumeMove.class})
    static final class Volume extends CommandGroup
    {
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a thin volume.")
    static final class VolumeCreate implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "Volume name.")
        String name;

        @Option(names = "--size", required = true, paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Size, e.g. 4G (K, M, G, T, P are powers of 1024); a multiple of 4096 bytes.")
        long sizeBytes;

        @Option(names = "--mode", paramLabel = "wt|1wb|wb", converter = ModeConverter.class,
            description = "Write mode (default: the controller's).")
        String mode;

        @Override
        public Integer call()
        {
            return root(spec).send("volume " + name, AdminRequest.of(AdminCommand.VOLUME_CREATE,
                "name", name, "size", Long.toString(sizeBytes), "mode", mode));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List volumes.")
    static final class VolumeList implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call()
        {
            return root(spec).send("volume list", AdminRequest.of(AdminCommand.VOLUME_LIST));
        }
    }

    /** The commands that take only a volume name. */
    abstract static class VolumeNameCommand implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "Volume name.")
        String name;

        abstract AdminCommand command();

        @Override
        public Integer call()
        {
            return root(spec).send("volume " + name, AdminRequest.of(command(), "name", name));
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one volume.")
    static final class VolumeShow extends VolumeNameCommand
    {
        @Override
        AdminCommand command()
        {
            return AdminCommand.VOLUME_SHOW;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a volume and its data.")
    static final class VolumeDelete extends VolumeNameCommand
    {
        @Override
        AdminCommand command()
        {
            return AdminCommand.VOLUME_DELETE;
        }
    }

    @Command(name = "offline", mixinStandardHelpOptions = true,
        description = "Take a volume offline (I/O is answered with an error).")
    static final class VolumeOffline extends VolumeNameCommand
    {
        @Override
        AdminCommand command()
        {
            return AdminCommand.VOLUME_OFFLINE;
        }
    }

    @Command(name = "online", mixinStandardHelpOptions = true, description = "Bring a volume online.")
    static final class VolumeOnline extends VolumeNameCommand
    {
        @Override
        AdminCommand command()
        {
            return AdminCommand.VOLUME_ONLINE;
        }
    }

    @Command(name = "set-mode", mixinStandardHelpOptions = true, description = "Change a volume's write mode.")
    static final class VolumeSetMode implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "Volume name.")
        String name;

        @Parameters(index = "1", paramLabel = "wt|1wb|wb", converter = ModeConverter.class,
            description = "Write mode.")
        String mode;

        @Override
        public Integer call()
        {
            return root(spec).send("volume " + name,
                AdminRequest.of(AdminCommand.VOLUME_SET_MODE, "name", name, "mode", mode));
        }
    }

    @Command(name = "move", mixinStandardHelpOptions = true, description = "Move a volume to controller A or B.")
    static final class VolumeMove implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", converter = NameConverter.class, description = "Volume name.")
        String name;

        @Option(names = "--to", required = true, paramLabel = "A|B", converter = NodeConverter.class,
            description = "Controller that will own the volume.")
        String to;

        @Override
        public Integer call()
        {
            return root(spec).send("volume " + name,
                AdminRequest.of(AdminCommand.VOLUME_MOVE, "name", name, "to", to));
        }
    }

    @Command(name = "stats", mixinStandardHelpOptions = true,
        description = "Latency percentiles per layer and volume, dedup ratio, cache and cleaning counters.")
    static final class Stats implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--volume", paramLabel = "NAME", converter = NameConverter.class,
            description = "Only this volume.")
        String volume;

        @Override
        public Integer call()
        {
            return root(spec).send(volume == null ? "stats" : "stats " + volume,
                AdminRequest.of(AdminCommand.STATS, "volume", volume));
        }
    }

    @Command(name = "task", mixinStandardHelpOptions = true, description = "Background tasks.",
        subcommands = {TaskList.class, TaskShow.class})
    static final class Task extends CommandGroup
    {
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List tasks.")
    static final class TaskList implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call()
        {
            return root(spec).send("task list", AdminRequest.of(AdminCommand.TASK_LIST));
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one task and its steps.")
    static final class TaskShow implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "ID", converter = NameConverter.class, description = "Task id.")
        String id;

        @Override
        public Integer call()
        {
            return root(spec).send("task " + id, AdminRequest.of(AdminCommand.TASK_SHOW, "id", id));
        }
    }

    @Command(name = "fault", mixinStandardHelpOptions = true, description = "Inject faults into this controller.",
        subcommands = {FaultLink.class})
    static final class Fault extends CommandGroup
    {
    }

    @Command(name = "link", mixinStandardHelpOptions = true,
        description = {"Cut this controller's link to its peer (the disk heartbeat goes on):",
            "partition: it sends and hears nothing; deaf: it sends but hears nothing (one-way loss);",
            "heal: the link works again (a new epoch, then the mirrors resynchronise)."})
    static final class FaultLink implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "partition|deaf|heal", converter = LinkFaultConverter.class,
            description = "The fault, or heal.")
        String mode;

        @Override
        public Integer call()
        {
            return root(spec).send("fault link", AdminRequest.of(AdminCommand.FAULT_LINK, "fault", mode));
        }
    }

    @Command(name = "trace", mixinStandardHelpOptions = true, description = "Recent trace events.")
    static final class Trace implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--volume", paramLabel = "NAME", converter = NameConverter.class,
            description = "Only events of this volume.")
        String volume;

        @Option(names = "--task", paramLabel = "ID", converter = NameConverter.class,
            description = "Only events of this task.")
        String task;

        @Override
        public Integer call()
        {
            return root(spec).send("trace", AdminRequest.of(AdminCommand.TRACE, "volume", volume, "task", task));
        }
    }
}
