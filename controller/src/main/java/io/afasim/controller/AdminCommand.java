package io.afasim.controller;

import java.util.List;

/**
 * The commands of the admin protocol, with the arguments each one requires and allows. {@link AdminProtocol} checks
 * a request against this table when it encodes or parses one, so a server switches on the enum and reads arguments
 * that are known to be present and well formed.
 */
public enum AdminCommand
{
    STATUS("status", List.of(), List.of()),
    VOLUME_CREATE("volume.create", List.of("name", "size"), List.of("mode")),
    VOLUME_LIST("volume.list", List.of(), List.of()),
    VOLUME_SHOW("volume.show", List.of("name"), List.of()),
    VOLUME_DELETE("volume.delete", List.of("name"), List.of()),
    VOLUME_SET_MODE("volume.set-mode", List.of("name", "mode"), List.of()),
    VOLUME_OFFLINE("volume.offline", List.of("name"), List.of()),
    VOLUME_ONLINE("volume.online", List.of("name"), List.of()),
    VOLUME_MOVE("volume.move", List.of("name", "to"), List.of()),
    STATS("stats", List.of(), List.of("volume")),
    TASK_LIST("task.list", List.of(), List.of()),
    TASK_SHOW("task.show", List.of("id"), List.of()),
    TRACE("trace", List.of(), List.of("volume", "task")),
    FAULT_LINK("fault.link", List.of("fault"), List.of());

    private static final AdminCommand[] VALUES = values();

    private final String wireName;
    private final List<String> requiredKeys;
    private final List<String> optionalKeys;

    AdminCommand(final String wireName, final List<String> requiredKeys, final List<String> optionalKeys)
    {
        this.wireName = wireName;
        this.requiredKeys = requiredKeys;
        this.optionalKeys = optionalKeys;
    }

    /** The command as written on the wire, e.g. {@code volume.set-mode}. */
    public String wireName()
    {
        return wireName;
    }

    public List<String> requiredKeys()
    {
        return requiredKeys;
    }

    public List<String> optionalKeys()
    {
        return optionalKeys;
    }

    public boolean takes(final String key)
    {
        return requiredKeys.contains(key) || optionalKeys.contains(key);
    }

    /** The command with this wire name, or null. */
    public static AdminCommand fromWireName(final String wireName)
    {
        for (final AdminCommand command : VALUES)
        {
            if (command.wireName.equals(wireName))
            {
                return command;
            }
        }
        return null;
    }

    /** All wire names, comma separated, for error messages. */
    public static String wireNames()
    {
        final StringBuilder names = new StringBuilder();
        for (final AdminCommand command : VALUES)
        {
            if (names.length() > 0)
            {
                names.append(", ");
            }
            names.append(command.wireName);
        }
        return names.toString();
    }
}
