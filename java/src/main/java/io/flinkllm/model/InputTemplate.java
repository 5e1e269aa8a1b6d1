package io.flinkllm.model;

import java.io.Serializable;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * How a model's INPUT row becomes the text the engine runs: {@code input-template} with
 * {@code {column}} placeholders, or the single INPUT column's text. Columns may be character
 * strings, BOOLEAN, numbers, DATE or TIMESTAMP; their SQL text goes in. A row whose referenced
 * columns are all NULL has no input (its outputs are NULL); a NULL among others is left empty.
 *
 * <p>The template's fixed text before the first column and after the last is not rendered per
 * row: it goes to the engine as the task's {@code input_template} ({@link #engineTemplate}), so
 * it is tokenised once with the cached prompt and a long input is cut inside the columns'
 * values, never through the instruction. Each row's input is the columns' values and the text
 * between them ({@link #render}).
 */
final class InputTemplate implements Serializable {
    private static final long serialVersionUID = 1L;

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z_][A-Za-z0-9_]*)\\}");

    /** The template split at its placeholders: text, column, text, column, ..., text. */
    private final List<String> texts = new ArrayList<>();
    private final List<Integer> columns = new ArrayList<>();
    private final List<LogicalType> types = new ArrayList<>();

    private InputTemplate() {}

    /** Checks the template against the INPUT columns (planning); null template: the single column. */
    static InputTemplate of(String template, List<String> names, List<LogicalType> inputTypes) {
        for (int i = 0; i < names.size(); i++) {
            if (!supported(inputTypes.get(i))) {
                throw new ValidationException("INPUT column '" + names.get(i) + "' has type " + inputTypes.get(i)
                        + ": use character strings, BOOLEAN, numbers, DATE or TIMESTAMP");
            }
        }
        if (template == null) {
            if (names.size() != 1) {
                throw new ValidationException("INPUT has " + names.size() + " columns " + names + ": give 'input-template' naming them, "
                        + "e.g. 'Product: {" + names.get(0) + "}'");
            }
            template = "{" + names.get(0) + "}";
        }
        InputTemplate t = new InputTemplate();
        Matcher m = PLACEHOLDER.matcher(template);
        int at = 0;
        while (m.find()) {
            int column = names.indexOf(m.group(1));
            if (column < 0) {
                throw new ValidationException("'input-template' names {" + m.group(1) + "}, which is not an INPUT column " + names);
            }
            t.texts.add(template.substring(at, m.start()));
            t.columns.add(column);
            t.types.add(inputTypes.get(column));
            at = m.end();
        }
        t.texts.add(template.substring(at));
        if (t.columns.isEmpty()) {
            throw new ValidationException("'input-template' names no INPUT column: put {column} where a column's value goes (columns " + names + ")");
        }
        return t;
    }

    private static boolean supported(LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
            case BOOLEAN:
            case TINYINT:
            case SMALLINT:
            case INTEGER:
            case BIGINT:
            case FLOAT:
            case DOUBLE:
            case DECIMAL:
            case DATE:
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return true;
            default:
                return false;
        }
    }

    /** The engine's input template: the fixed text around the columns, with {@code {input}} where the row's text goes. */
    String engineTemplate() {
        return texts.get(0) + "{input}" + texts.get(texts.size() - 1);
    }

    /** The row's text between the template's fixed ends, or null when every column the template names is NULL. */
    String render(RowData row) {
        StringBuilder out = new StringBuilder();
        boolean any = false;
        for (int i = 0; i < columns.size(); i++) {
            int column = columns.get(i);
            if (!row.isNullAt(column)) {
                any = true;
                out.append(text(row, column, types.get(i)));
            }
            if (i + 1 < columns.size()) {
                out.append(texts.get(i + 1));
            }
        }
        return any ? out.toString() : null;
    }

    private static String text(RowData row, int i, LogicalType type) {
        switch (type.getTypeRoot()) {
            case BOOLEAN:
                return row.getBoolean(i) ? "TRUE" : "FALSE";
            case TINYINT:
                return Byte.toString(row.getByte(i));
            case SMALLINT:
                return Short.toString(row.getShort(i));
            case INTEGER:
                return Integer.toString(row.getInt(i));
            case BIGINT:
                return Long.toString(row.getLong(i));
            case FLOAT:
                return Float.toString(row.getFloat(i));
            case DOUBLE:
                return Double.toString(row.getDouble(i));
            case DECIMAL:
                return decimal(row, i, type).toBigDecimal().toPlainString();
            case DATE:
                return LocalDate.ofEpochDay(row.getInt(i)).toString();
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return timestamp(row, i, type).toLocalDateTime().toString();
            default:
                return row.getString(i).toString();
        }
    }

    private static DecimalData decimal(RowData row, int i, LogicalType type) {
        org.apache.flink.table.types.logical.DecimalType d = (org.apache.flink.table.types.logical.DecimalType) type;
        return row.getDecimal(i, d.getPrecision(), d.getScale());
    }

    private static TimestampData timestamp(RowData row, int i, LogicalType type) {
        return row.getTimestamp(i, org.apache.flink.table.types.logical.utils.LogicalTypeChecks.getPrecision(type));
    }
}
